//! The checks the fuzz targets run. Each target is `checks::<target>::check(input)`; the same
//! functions replay the committed corpora under the stable toolchain
//! (`dataplane/tests/fuzz_corpus.rs` includes this module by path).

pub mod checks;
