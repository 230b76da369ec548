//! Record layout, deterministic record generation and id parsing.
//!
//! A record is exactly `record_size` bytes of printable ASCII without `'\n'`:
//!
//! ```text
//! 1a2b3c4d-0007-000000012345-<filler...>
//! └ run ─┘ └conn┘ └─ counter ─┘
//! ```
//!
//! The filler is pseudo-random printable text over the 64 characters `'0'..='o'` (6 bits per
//! byte, so gzip shrinks it only to about 3/4) from a fast generator seeded by (run, connection,
//! counter). A record is therefore a pure function of its id: failed records are regenerated for
//! resending, and delivered records are compared byte-for-byte with what was sent without keeping
//! any payload in memory.

use anyhow::{Result, bail};

/// Length of the id prefix `<run 8 hex>-<conn 4>-<counter 12>-`.
pub const ID_LEN: usize = 8 + 1 + 4 + 1 + 12 + 1;
/// Connections are numbered with 4 decimal digits.
pub const MAX_CONNECTIONS: u16 = 10_000;
/// Counters are written with 12 decimal digits.
pub const MAX_COUNTER: u64 = 999_999_999_999;

/// Identity of one record within a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordId {
    pub connection: u16,
    pub counter: u64,
}

/// What a delivered line turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// A record of this run.
    Ours(RecordId),
    /// Starts with this run's id but the rest of the prefix does not parse.
    Malformed,
    /// Some other run's record, or unrelated data.
    Foreign,
}

/// Generates and recognises the records of one run.
#[derive(Debug)]
pub struct RecordGen {
    run_hex: [u8; 8],
    record_size: usize,
    seed: u64,
}

impl RecordGen {
    pub fn new(run_id: u32, record_size: usize) -> Result<Self> {
        if record_size < ID_LEN {
            bail!("--record-size must be at least {ID_LEN} bytes (the record id prefix)");
        }
        let mut run_hex = [0u8; 8];
        run_hex.copy_from_slice(format!("{run_id:08x}").as_bytes());
        Ok(Self {
            run_hex,
            record_size,
            seed: mix64(u64::from(run_id)),
        })
    }

    /// The run id as 8 lowercase hex digits.
    pub fn run_hex(&self) -> &str {
        std::str::from_utf8(&self.run_hex).unwrap_or("????????")
    }

    pub fn record_size(&self) -> usize {
        self.record_size
    }

    /// Writes record `id` into `out`, which must be exactly `record_size` bytes long.
    pub fn write(&self, id: RecordId, out: &mut [u8]) {
        assert_eq!(out.len(), self.record_size, "record buffer size");
        out[..8].copy_from_slice(&self.run_hex);
        out[8] = b'-';
        write_digits(&mut out[9..13], u64::from(id.connection));
        out[13] = b'-';
        write_digits(&mut out[14..26], id.counter);
        out[26] = b'-';
        let key = (u64::from(id.connection) << 40) | id.counter;
        fill_printable(&mut out[ID_LEN..], mix64(self.seed ^ key));
    }

    /// Classifies a delivered line (without its trailing `'\n'`).
    pub fn classify(&self, line: &[u8]) -> LineKind {
        if line.len() < 9 || line[..8] != self.run_hex || line[8] != b'-' {
            return LineKind::Foreign;
        }
        match parse_id_tail(line) {
            Some(id) => LineKind::Ours(id),
            None => LineKind::Malformed,
        }
    }
}

/// Parses `<conn 4>-<counter 12>-` after the run prefix.
fn parse_id_tail(line: &[u8]) -> Option<RecordId> {
    if line.len() < ID_LEN || line[13] != b'-' || line[26] != b'-' {
        return None;
    }
    let connection = u16::try_from(parse_digits(&line[9..13])?).ok()?;
    let counter = parse_digits(&line[14..26])?;
    Some(RecordId {
        connection,
        counter,
    })
}

/// Fills `out` with pseudo-random characters in `'0'..='o'` (0x30 + 6 random bits), 8 per 64-bit
/// draw of a wyrand generator started at `state`.
fn fill_printable(out: &mut [u8], mut state: u64) {
    const LOW6: u64 = 0x3f3f_3f3f_3f3f_3f3f;
    const ZERO: u64 = 0x3030_3030_3030_3030;
    for chunk in out.chunks_mut(8) {
        state = state.wrapping_add(0xa076_1d64_78bd_642f);
        let product = u128::from(state) * u128::from(state ^ 0xe703_7ed1_a0b4_28db);
        let bits = (product >> 64) as u64 ^ product as u64;
        let chars = ((bits & LOW6) + ZERO).to_le_bytes();
        chunk.copy_from_slice(&chars[..chunk.len()]);
    }
}

/// SplitMix64 finalizer: a bijective 64-bit mix.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Writes `value` as zero-padded decimal filling all of `out` (high digits are truncated).
fn write_digits(out: &mut [u8], mut value: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn parse_digits(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + u64::from(d - b'0'))
    })
}

/// Order-independent checksum over a set of records, from their CRC32Cs: the wrapping sum, and
/// the XOR of a 64-bit mix of each (CRC is linear, so a plain XOR of CRCs of structurally similar
/// records can cancel out; the mix is not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Checksum {
    pub count: u64,
    pub crc_sum: u64,
    pub mixed_xor: u64,
}

impl Checksum {
    pub fn add(&mut self, crc: u32) {
        self.count += 1;
        self.crc_sum = self.crc_sum.wrapping_add(u64::from(crc));
        self.mixed_xor ^= mix64(u64::from(crc));
    }

    pub fn merge(&mut self, other: &Checksum) {
        self.count += other.count;
        self.crc_sum = self.crc_sum.wrapping_add(other.crc_sum);
        self.mixed_xor ^= other.mixed_xor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(generator: &RecordGen, connection: u16, counter: u64) -> Vec<u8> {
        let mut out = vec![0u8; generator.record_size()];
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
    fn records_have_exact_size_id_prefix_and_printable_filler() {
        let generator = RecordGen::new(0x1a2b_3c4d, 100).expect("generator");
        let rec = record(&generator, 7, 12_345);
        assert_eq!(rec.len(), 100);
        assert!(rec.starts_with(b"1a2b3c4d-0007-000000012345-"));
        assert!(
            rec.iter().all(|b| (0x20..0x7f).contains(b)),
            "printable, no newline"
        );
        assert_eq!(generator.run_hex(), "1a2b3c4d");
    }

    #[test]
    fn records_are_deterministic_and_distinct() {
        let a = RecordGen::new(42, 64).expect("generator");
        let b = RecordGen::new(42, 64).expect("generator");
        assert_eq!(record(&a, 1, 99), record(&b, 1, 99));
        assert_ne!(record(&a, 1, 99)[ID_LEN..], record(&a, 1, 100)[ID_LEN..]);
        assert_ne!(record(&a, 1, 99), record(&a, 2, 99));
    }

    #[test]
    fn minimum_record_size_is_the_id() {
        assert!(RecordGen::new(1, ID_LEN - 1).is_err());
        let generator = RecordGen::new(1, ID_LEN).expect("generator");
        assert_eq!(
            record(&generator, 9999, MAX_COUNTER),
            b"00000001-9999-999999999999-"
        );
    }

    #[test]
    fn checksum_is_order_independent_and_does_not_cancel() {
        let generator = RecordGen::new(5, 64).expect("generator");
        let crcs: Vec<u32> = (0..8u16)
            .flat_map(|c| (0..200).map(move |n| (c, n)))
            .map(|(c, n)| crc32c::crc32c(&record(&generator, c, n)))
            .collect();
        let (mut forward, mut backward) = (Checksum::default(), Checksum::default());
        crcs.iter().for_each(|&crc| forward.add(crc));
        crcs.iter().rev().for_each(|&crc| backward.add(crc));
        assert_eq!(forward, backward);
        assert_ne!(forward.mixed_xor, 0);
        let mut partial = Checksum::default();
        crcs[1..].iter().for_each(|&crc| partial.add(crc));
        assert_ne!(partial, forward);
    }

    #[test]
    fn classify_round_trips_ids() {
        let generator = RecordGen::new(0xdead_beef, 1024).expect("generator");
        for (connection, counter) in [(0, 0), (3, 1), (9999, MAX_COUNTER), (12, 4_000_000_123)] {
            let rec = record(&generator, connection, counter);
            assert_eq!(
                generator.classify(&rec),
                LineKind::Ours(RecordId {
                    connection,
                    counter
                })
            );
        }
    }

    #[test]
    fn classify_rejects_other_runs_and_garbage() {
        let generator = RecordGen::new(0xdead_beef, 64).expect("generator");
        let other = RecordGen::new(0x0bad_cafe, 64).expect("generator");
        assert_eq!(generator.classify(&record(&other, 1, 1)), LineKind::Foreign);
        assert_eq!(generator.classify(b""), LineKind::Foreign);
        assert_eq!(generator.classify(b"{\"json\":true}"), LineKind::Foreign);
        assert_eq!(
            generator.classify(b"deadbeef-00x1-000000000001-"),
            LineKind::Malformed
        );
        assert_eq!(
            generator.classify(b"deadbeef-0001-0000000001"),
            LineKind::Malformed
        );
        assert_eq!(
            generator.classify(b"deadbeef-0001+000000000001-"),
            LineKind::Malformed
        );
    }
}
