//! `hydrant validate`: every example is valid; problems are reported with their field paths.

use std::process::Command;

fn validate(path: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hydrant"))
        .arg("validate")
        .arg("-f")
        .arg(path)
        .output()
        .expect("run hydrant validate");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn every_example_is_valid() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples).expect("examples dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let (ok, out) = validate(&path);
            assert!(ok, "{}: {out}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 2, "examples found: {seen}");
}

#[test]
fn problems_are_reported_with_field_paths() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("bad.yaml");
    std::fs::write(
        &path,
        "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata: {name: bad}
spec:
  buffer: {maxBytes: 1Mi}
  destination:
    s3:
      bucket: UPPER
      prefix: \"x/!{timestamp:yyyy}/\"
      bufferingHints: {sizeInMBs: 0, intervalInSeconds: 5}
",
    )
    .expect("write");
    let (ok, out) = validate(&path);
    assert!(!ok);
    for expected in [
        "spec.buffer.maxBytes: 1048576 bytes is below the minimum of 16Mi",
        "spec.destination.s3.bucket:",
        "spec.destination.s3.bufferingHints.sizeInMBs: 0 is outside 1-128",
        "spec.destination.s3.errorOutputPrefix: required when prefix contains expressions",
    ] {
        assert!(out.contains(expected), "missing `{expected}` in:\n{out}");
    }

    std::fs::write(
        &path,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .expect("write");
    let (ok, out) = validate(&path);
    assert!(!ok);
    assert!(out.contains("ConfigMap"), "{out}");
}
