#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hydrant_fuzz::checks::hive_type::check(data));
