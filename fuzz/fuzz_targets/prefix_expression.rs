#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hydrant_fuzz::checks::prefix_expression::check(data));
