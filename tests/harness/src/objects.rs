//! Reading delivered objects back: from a local directory or an S3-compatible store, decompressed.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// Every file under `dir` (recursively), by path relative to `dir`.
pub fn local_objects(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            let rel = path
                .strip_prefix(root)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            // object_store's in-progress temp files are not objects.
            if !rel.contains("#") {
                out.push((rel, bytes));
            }
        }
    }
}

/// Decompresses an object by its key's extension.
pub fn decode(key: &str, bytes: &[u8]) -> Vec<u8> {
    if key.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    } else if key.ends_with(".zip") {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
        assert_eq!(archive.len(), 1, "a Firehose ZIP holds one entry");
        let mut out = Vec::new();
        archive
            .by_index(0)
            .expect("entry")
            .read_to_end(&mut out)
            .expect("unzip");
        out
    } else if key.ends_with(".snappy") {
        decode_snappy(bytes)
    } else {
        bytes.to_vec()
    }
}

/// snappy-java stream framing (magic header) or Hadoop block framing.
fn decode_snappy(bytes: &[u8]) -> Vec<u8> {
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let mut out = Vec::new();
    let mut dec = snap::raw::Decoder::new();
    if bytes.starts_with(&[0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0]) {
        let mut i = 16;
        while i < bytes.len() {
            let n = be(&bytes[i..]);
            out.extend(
                dec.decompress_vec(&bytes[i + 4..i + 4 + n])
                    .expect("snappy block"),
            );
            i += 4 + n;
        }
    } else {
        let mut i = 0;
        while i < bytes.len() {
            let raw = be(&bytes[i..]);
            i += 4;
            let mut got = 0;
            while got < raw {
                let n = be(&bytes[i..]);
                let block = dec
                    .decompress_vec(&bytes[i + 4..i + 4 + n])
                    .expect("hadoop block");
                got += block.len();
                out.extend(block);
                i += 4 + n;
            }
        }
    }
    out
}

/// Splits delivered newline-delimited records.
pub fn lines(data: &[u8]) -> Vec<String> {
    data.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

/// Counts of each record across all objects.
pub fn record_counts<'a>(
    objects: impl IntoIterator<Item = &'a (String, Vec<u8>)>,
) -> HashMap<String, u32> {
    let mut counts = HashMap::new();
    for (key, bytes) in objects {
        for line in lines(&decode(key, bytes)) {
            *counts.entry(line).or_insert(0) += 1;
        }
    }
    counts
}
