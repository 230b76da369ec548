//! One module per fuzz target. A check panics when the code under test breaks a property; it
//! returns normally for any input the code answers correctly, errors included.
//!
//! Shared with `dataplane/tests/fuzz_corpus.rs`, so it uses only crates the data plane already
//! depends on.

pub mod cloudwatch_logs;
pub mod firehose_request;
pub mod hive_type;
pub mod kpl_deaggregate;
pub mod lambda_response;
pub mod manifest;
pub mod plain_records;
pub mod prefix_expression;
pub mod sigv4;
pub mod wal_checkpoint;
pub mod wal_recovery;

/// A target's check: panics when the code under test breaks a property for `input`.
pub type Check = fn(input: &[u8]);

/// Every target: its name (of `fuzz_targets/<name>.rs` and `corpus/<name>/`) and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("cloudwatch_logs", cloudwatch_logs::check),
    ("firehose_request", firehose_request::check),
    ("hive_type", hive_type::check),
    ("kpl_deaggregate", kpl_deaggregate::check),
    ("lambda_response", lambda_response::check),
    ("manifest", manifest::check),
    ("plain_records", plain_records::check),
    ("prefix_expression", prefix_expression::check),
    ("sigv4", sigv4::check),
    ("wal_checkpoint", wal_checkpoint::check),
    ("wal_recovery", wal_recovery::check),
];

/// An arrival time for the records a check frames (2023-11-14T22:13:20Z).
pub const ARRIVAL_MS: u64 = 1_700_000_000_000;

/// One record as the log frames it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub arrival_ms: u64,
    pub data: Vec<u8>,
}

/// The frames at the start of `bytes` up to the first incomplete or corrupt one, and where they
/// end. Written from the format's description (`[len u32][crc32c u32][arrival u64][data]`,
/// little-endian, the CRC over arrival and data), not with the data plane's decoder, so the
/// checks compare the two.
pub fn valid_frames(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    loop {
        let Some(header) = bytes.get(at..at + 16) else {
            return (records, at);
        };
        let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
        if len > dataplane::wal::frame::MAX_RECORD_LEN {
            return (records, at);
        }
        let Some(data) = bytes.get(at + 16..at + 16 + len) else {
            return (records, at);
        };
        if crc32c::crc32c_append(crc32c::crc32c(&header[8..16]), data) != crc {
            return (records, at);
        }
        records.push(Record {
            arrival_ms: u64::from_le_bytes(header[8..16].try_into().expect("8 bytes")),
            data: data.to_vec(),
        });
        at += 16 + len;
    }
}

/// The records of a frame batch built by the data plane: every byte must be a valid frame.
pub fn batch_records(batch: &dataplane::wal::FrameBatch) -> Vec<Record> {
    let (records, len) = valid_frames(batch.as_bytes());
    assert_eq!(
        len,
        batch.len(),
        "a built frame batch holds only whole, valid frames"
    );
    assert_eq!(records.len() as u64, batch.records());
    let payload: usize = records.iter().map(|r| r.data.len()).sum();
    assert_eq!(payload as u64, batch.payload_bytes());
    records
}

/// A directory for a check's files: in memory where the machine has `/dev/shm`, so the log's
/// fsyncs cost little.
pub fn temp_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let mut builder = tempfile::Builder::new();
    builder.prefix("hydrant-fuzz-");
    if shm.is_dir()
        && let Ok(dir) = builder.tempdir_in(shm)
    {
        return dir;
    }
    builder.tempdir().expect("a temporary directory")
}

/// A plaintext log in `dir`, large enough for any input, acknowledging without fsync.
pub fn wal_config(dir: &std::path::Path) -> dataplane::wal::WalConfig {
    dataplane::wal::WalConfig {
        dir: dir.to_owned(),
        max_bytes: 64 << 20,
        segment_bytes: 8 << 20,
        durability: crds::Durability::None,
        encryption: None,
        keyring: Vec::new(),
    }
}

/// Accepted JSON as a `Value`, if `Value` takes it: JSON's grammar allows escapes of lone
/// surrogates (`"\udeee"`) and numbers of any size (`1e999`), which `Value` refuses but a
/// parser accepts in a member it skips.
/// Panics if the bytes are not UTF-8 or not JSON.
pub fn json_value(bytes: &[u8]) -> Option<serde_json::Value> {
    let text = std::str::from_utf8(bytes).expect("accepted JSON is UTF-8");
    match serde_json::from_str(text) {
        Ok(value) => Some(value),
        // Escapes of lone surrogates, and numbers beyond f64, are JSON that `Value` refuses.
        Err(e)
            if ["surrogate", "end of hex escape", "number out of range"]
                .iter()
                .any(|why| e.to_string().contains(why)) =>
        {
            None
        }
        Err(e) => panic!("accepted JSON is not JSON: {e}"),
    }
}
