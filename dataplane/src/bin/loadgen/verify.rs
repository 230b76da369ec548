//! Delivery verification: reads every object under the delivery directory, splits it on `'\n'`
//! and checks that every acknowledged record of this run arrived intact.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use flate2::bufread::MultiGzDecoder;
use serde::Serialize;

use crate::bitmap::Bitmap;
use crate::record::{Checksum, LineKind, RecordGen};

const READ_BUFFER: usize = 1 << 20;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// How delivered objects are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Plain objects (files ending in `.gz` or starting with the gzip magic are still gunzipped).
    None,
    /// Gzip-compressed objects.
    Gzip,
}

/// Verification results.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    pub files: u64,
    pub unreadable_files: u64,
    /// Bytes after decompression.
    pub bytes: u64,
    pub lines: u64,
    /// Lines that are not records of this run (other runs, other data).
    pub foreign_lines: u64,
    /// Lines with this run's prefix but an unparseable id, or an unknown connection.
    pub malformed_lines: u64,
    /// Distinct records of this run that were delivered.
    pub delivered_records: u64,
    /// Extra copies of records already seen.
    pub duplicates: u64,
    /// Acknowledged records that were not delivered.
    pub missing: u64,
    /// Delivered records that were never acknowledged (e.g. failed client-side); not an error.
    pub unacknowledged_delivered: u64,
    /// Delivered records whose bytes differ from what was sent.
    pub corrupt: u64,
    /// Over all acknowledged records.
    pub acked_checksum: Checksum,
    /// Over distinct delivered records that were acknowledged.
    pub delivered_checksum: Checksum,
    pub checksum_match: bool,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.missing == 0 && self.corrupt == 0 && self.checksum_match
    }
}

/// Scans `dir` and compares what was delivered with what was acknowledged.
pub fn verify(
    dir: &Path,
    compression: Compression,
    generator: &RecordGen,
    acked: &[Bitmap],
    acked_checksum: Checksum,
) -> Result<VerifyReport> {
    let mut scanner = Scanner {
        generator,
        acked,
        seen: vec![Bitmap::default(); acked.len()],
        expected: vec![0; generator.record_size()],
        report: VerifyReport {
            acked_checksum,
            ..VerifyReport::default()
        },
    };
    for path in list_files(dir)? {
        scanner.report.files += 1;
        if let Err(e) = scanner.scan_file(&path, compression) {
            scanner.report.unreadable_files += 1;
            eprintln!("loadgen: verify: {}: {e:#}", path.display());
        }
    }
    Ok(scanner.finish())
}

/// All regular files under `dir`, recursively, sorted.
fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?;
        for entry in entries {
            let path = entry
                .with_context(|| format!("listing {}", dir.display()))?
                .path();
            let meta = std::fs::metadata(&path)
                .with_context(|| format!("inspecting {}", path.display()))?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Opens `path`, gunzipping when asked to, when it ends in `.gz`, or when it starts with the gzip
/// magic number.
fn open_object(path: &Path, compression: Compression) -> Result<Box<dyn BufRead>> {
    let file = File::open(path).context("opening")?;
    let mut raw = BufReader::with_capacity(READ_BUFFER, file);
    let is_gz_name = path.extension().is_some_and(|ext| ext == "gz");
    let has_magic = raw.fill_buf().context("reading")?.starts_with(&GZIP_MAGIC);
    if compression == Compression::Gzip || is_gz_name || has_magic {
        let decoder = MultiGzDecoder::new(raw);
        Ok(Box::new(BufReader::with_capacity(READ_BUFFER, decoder)))
    } else {
        Ok(Box::new(raw))
    }
}

struct Scanner<'a> {
    generator: &'a RecordGen,
    acked: &'a [Bitmap],
    /// Delivered counters, per connection.
    seen: Vec<Bitmap>,
    /// Scratch buffer for the expected bytes of a record.
    expected: Vec<u8>,
    report: VerifyReport,
}

impl Scanner<'_> {
    fn scan_file(&mut self, path: &Path, compression: Compression) -> Result<()> {
        let reader = open_object(path, compression)?;
        self.scan(reader)
    }

    fn scan(&mut self, mut reader: impl BufRead) -> Result<()> {
        let mut line = Vec::with_capacity(self.generator.record_size() + 1);
        loop {
            line.clear();
            let read = reader.read_until(b'\n', &mut line).context("reading")?;
            if read == 0 {
                return Ok(());
            }
            self.report.bytes += read as u64;
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            if !line.is_empty() {
                self.line(&line);
            }
        }
    }

    fn line(&mut self, line: &[u8]) {
        self.report.lines += 1;
        let id = match self.generator.classify(line) {
            LineKind::Foreign => {
                self.report.foreign_lines += 1;
                return;
            }
            LineKind::Malformed => {
                self.report.malformed_lines += 1;
                return;
            }
            LineKind::Ours(id) => id,
        };
        let connection = usize::from(id.connection);
        let Some(seen) = self.seen.get_mut(connection) else {
            self.report.malformed_lines += 1;
            return;
        };
        if !seen.insert(id.counter) {
            self.report.duplicates += 1;
            return;
        }
        self.report.delivered_records += 1;
        let intact = line.len() == self.expected.len() && {
            self.generator.write(id, &mut self.expected);
            line == self.expected.as_slice()
        };
        if !intact {
            self.report.corrupt += 1;
        }
        if self.acked[connection].contains(id.counter) {
            self.report.delivered_checksum.add(crc32c::crc32c(line));
        } else {
            self.report.unacknowledged_delivered += 1;
        }
    }

    fn finish(mut self) -> VerifyReport {
        self.report.missing = self
            .acked
            .iter()
            .zip(&self.seen)
            .map(|(acked, seen)| acked.count_missing_from(seen))
            .sum();
        self.report.checksum_match = self.report.acked_checksum == self.report.delivered_checksum;
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordId;
    use std::io::Write;

    fn record(generator: &RecordGen, connection: u16, counter: u64) -> Vec<u8> {
        let mut out = vec![0; generator.record_size()];
        generator.write(
            RecordId {
                connection,
                counter,
            },
            &mut out,
        );
        out
    }

    #[test]
    fn detects_missing_duplicate_corrupt_and_foreign_records() {
        let generator = RecordGen::new(7, 48).expect("generator");
        let other = RecordGen::new(8, 48).expect("generator");
        let mut acked = vec![Bitmap::default(), Bitmap::default()];
        let mut acked_checksum = Checksum::default();
        for (connection, counter) in [(0u16, 0u64), (0, 1), (0, 2), (1, 0)] {
            acked[usize::from(connection)].insert(counter);
            acked_checksum.add(crc32c::crc32c(&record(&generator, connection, counter)));
        }

        let dir = tempfile::tempdir().expect("tempdir");
        let nested = dir.path().join("2024/01/01");
        std::fs::create_dir_all(&nested).expect("mkdir");
        // Plain object: (0,0), (0,1), a duplicate of (0,0), another run's record, an unacked one.
        let mut plain = Vec::new();
        for rec in [
            record(&generator, 0, 0),
            record(&generator, 0, 1),
            record(&generator, 0, 0),
            record(&other, 0, 5),
            record(&generator, 1, 9),
        ] {
            plain.extend_from_slice(&rec);
            plain.push(b'\n');
        }
        std::fs::write(dir.path().join("a"), &plain).expect("write");
        // Gzipped object without trailing newline: (1,0) corrupted. (0,2) is missing.
        let mut corrupted = record(&generator, 1, 0);
        corrupted[40] ^= 1;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&corrupted).expect("gzip");
        std::fs::write(nested.join("b.gz"), gz.finish().expect("gzip")).expect("write");

        let report = verify(
            dir.path(),
            Compression::None,
            &generator,
            &acked,
            acked_checksum,
        )
        .expect("verify");
        assert_eq!(report.files, 2);
        assert_eq!(report.unreadable_files, 0);
        assert_eq!(report.lines, 6);
        assert_eq!(report.foreign_lines, 1);
        assert_eq!(report.delivered_records, 4);
        assert_eq!(report.duplicates, 1);
        assert_eq!(report.unacknowledged_delivered, 1);
        assert_eq!(report.corrupt, 1);
        assert_eq!(report.missing, 1);
        assert!(!report.checksum_match);
        assert!(!report.ok());
    }

    #[test]
    fn complete_delivery_verifies() {
        let generator = RecordGen::new(9, 100).expect("generator");
        let mut acked = vec![Bitmap::default()];
        let mut acked_checksum = Checksum::default();
        let mut object = Vec::new();
        for counter in 0..10 {
            let rec = record(&generator, 0, counter);
            acked[0].insert(counter);
            acked_checksum.add(crc32c::crc32c(&rec));
            object.extend_from_slice(&rec);
            object.push(b'\n');
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("obj"), &object).expect("write");
        let report = verify(
            dir.path(),
            Compression::None,
            &generator,
            &acked,
            acked_checksum,
        )
        .expect("verify");
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.delivered_records, 10);
    }
}
