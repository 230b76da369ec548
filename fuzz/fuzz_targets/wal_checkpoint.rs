#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hydrant_fuzz::checks::wal_checkpoint::check(data));
