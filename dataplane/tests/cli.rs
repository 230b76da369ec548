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

/// `hydrant <args>`: its exit code, stdout and stderr.
fn hydrant(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hydrant"))
        .args(args)
        .output()
        .expect("run hydrant");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata: {name: good}
spec:
  destination:
    local: {directory: ./out}
";

/// A misspelt field deep inside, and a compression format that does not exist.
const MISSPELT: &str = "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata: {name: misspelt}
spec:
  destination:
    s3:
      bucket: raw
      compressionFormat: BROTLI
      bufferingHints: {sizeInMB: 8}
";

#[test]
fn unknown_fields_and_values_are_refused_with_their_paths() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("misspelt.yaml");
    std::fs::write(&path, MISSPELT).expect("write");
    let (code, _, stderr) = hydrant(&["validate".as_ref(), "-f".as_ref(), path.as_os_str()]);
    assert_eq!(code, Some(1), "{stderr}");
    let file = path.display();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "{file}: spec.destination.s3.bufferingHints.sizeInMB: unknown field, did you mean sizeInMBs?"
            ),
            format!(
                "{file}: spec.destination.s3.compressionFormat: unknown variant BROTLI, expected one of UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY"
            ),
        ]
    );

    // `run` (and `drain`) read the manifest the same way, before starting anything.
    let (code, _, stderr) = hydrant(&["run".as_ref(), "-f".as_ref(), path.as_os_str()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("sizeInMB: unknown field, did you mean sizeInMBs?"),
        "{stderr}"
    );
}

#[test]
fn every_document_of_a_file_is_validated() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("streams.yaml");
    std::fs::write(&path, format!("{GOOD}---\n{MISSPELT}")).expect("write");
    let (code, stdout, stderr) = hydrant(&["validate".as_ref(), "-f".as_ref(), path.as_os_str()]);
    assert_eq!(code, Some(1), "{stderr}");
    let file = path.display();
    assert!(
        stdout.contains(&format!(
            "{file}: document 1 (good): DeliveryStream good is valid"
        )),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!(
            "{file}: document 2 (misspelt): spec.destination.s3.bufferingHints.sizeInMB: unknown field"
        )),
        "{stderr}"
    );

    // One process runs one stream: a file of several is refused.
    let (code, _, stderr) = hydrant(&["run".as_ref(), "-f".as_ref(), path.as_os_str()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("expected one DeliveryStream, found 2 YAML documents"),
        "{stderr}"
    );

    std::fs::write(
        &path,
        format!("{GOOD}---\n{}", GOOD.replace("good", "other")),
    )
    .expect("write");
    let (code, stdout, stderr) = hydrant(&["validate".as_ref(), "-f".as_ref(), path.as_os_str()]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
}

#[test]
fn a_file_that_cannot_be_read_exits_2() {
    let tmp = tempfile::tempdir().expect("tmp");
    let missing = tmp.path().join("missing.yaml");
    let (code, _, stderr) = hydrant(&["validate".as_ref(), "-f".as_ref(), missing.as_os_str()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("missing.yaml"), "{stderr}");
    // A usage error, as clap reports it.
    let (code, _, _) = hydrant(&["validate".as_ref()]);
    assert_eq!(code, Some(2));
}
