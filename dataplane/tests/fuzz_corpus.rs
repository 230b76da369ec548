//! Replays every committed fuzz corpus (`fuzz/corpus/<target>/`) through its target's check,
//! so the corpora keep guarding the parsers on the stable toolchain, without libFuzzer.

#[path = "../../fuzz/src/checks/mod.rs"]
mod checks;

use std::path::Path;

#[test]
fn every_corpus_file_passes_its_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (target, check) in checks::TARGETS {
        let dir = root.join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}: no corpus", dir.display());
        for file in files {
            let input = std::fs::read(&file).expect("reading a corpus file");
            eprintln!("{}", file.display());
            check(&input);
        }
    }
}
