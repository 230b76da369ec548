#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hydrant_fuzz::checks::plain_records::check(data));
