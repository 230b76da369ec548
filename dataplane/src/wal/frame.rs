//! Record framing: `[len u32][crc32c u32][arrival ms u64][data]`, little-endian. The CRC covers the
//! arrival time and the data, so a torn or corrupted frame is detected on read.

/// Bytes before each record's data.
pub const HEADER_LEN: usize = 16;

/// Records are at most 1,024,000 bytes; anything larger in a header is corruption.
pub const MAX_RECORD_LEN: usize = 1_024_000;

/// Frames for one append, built by the caller (on its own thread) so the log writer only copies
/// bytes to the file.
#[derive(Debug, Default, Clone)]
pub struct FrameBatch {
    bytes: Vec<u8>,
    records: u64,
    payload: u64,
}

impl FrameBatch {
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(bytes),
            records: 0,
            payload: 0,
        }
    }

    /// Appends one record whose data `fill` writes into the buffer (for example by decoding base64
    /// straight into it). If `fill` fails, the batch is left as it was.
    pub fn push_with<E>(
        &mut self,
        arrival_ms: u64,
        fill: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<usize, E> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&[0u8; HEADER_LEN]);
        if let Err(e) = fill(&mut self.bytes) {
            self.bytes.truncate(start);
            return Err(e);
        }
        let data_len = self.bytes.len() - start - HEADER_LEN;
        let arrival = arrival_ms.to_le_bytes();
        let crc =
            crc32c::crc32c_append(crc32c::crc32c(&arrival), &self.bytes[start + HEADER_LEN..]);
        let header = &mut self.bytes[start..start + HEADER_LEN];
        header[0..4].copy_from_slice(&(data_len as u32).to_le_bytes());
        header[4..8].copy_from_slice(&crc.to_le_bytes());
        header[8..16].copy_from_slice(&arrival);
        self.records += 1;
        self.payload += data_len as u64;
        Ok(data_len)
    }

    /// Appends one record from a slice.
    pub fn push(&mut self, arrival_ms: u64, data: &[u8]) {
        let _ = self.push_with::<()>(arrival_ms, |buf| {
            buf.extend_from_slice(data);
            Ok(())
        });
    }

    /// Number of records in the batch.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Total record payload bytes (without framing).
    pub fn payload_bytes(&self) -> u64 {
        self.payload
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// One decoded frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub arrival_ms: u64,
    pub data: &'a [u8],
}

/// The outcome of decoding at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A valid frame and the bytes it used.
    Frame(Frame<'a>, usize),
    /// The buffer ends inside a frame that needs this many bytes in all.
    Incomplete(usize),
    /// The bytes are not a valid frame (torn write or corruption).
    Corrupt,
}

/// Decodes the frame at the start of `buf`.
pub fn decode(buf: &[u8]) -> Decoded<'_> {
    if buf.len() < HEADER_LEN {
        return Decoded::Incomplete(HEADER_LEN);
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > MAX_RECORD_LEN {
        return Decoded::Corrupt;
    }
    let total = HEADER_LEN + len;
    if buf.len() < total {
        return Decoded::Incomplete(total);
    }
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let arrival = &buf[8..16];
    let data = &buf[HEADER_LEN..total];
    if crc32c::crc32c_append(crc32c::crc32c(arrival), data) != crc {
        return Decoded::Corrupt;
    }
    let mut a = [0u8; 8];
    a.copy_from_slice(arrival);
    Decoded::Frame(
        Frame {
            arrival_ms: u64::from_le_bytes(a),
            data,
        },
        total,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_damage() {
        let mut batch = FrameBatch::default();
        batch.push(7, b"hello");
        batch.push(8, b"");
        let bytes = batch.as_bytes().to_vec();
        let Decoded::Frame(f, used) = decode(&bytes) else {
            panic!("first frame")
        };
        assert_eq!((f.arrival_ms, f.data), (7, &b"hello"[..]));
        let Decoded::Frame(f, _) = decode(&bytes[used..]) else {
            panic!("second frame")
        };
        assert_eq!((f.arrival_ms, f.data), (8, &b""[..]));
        assert_eq!(decode(&bytes[..used - 1]), Decoded::Incomplete(used));
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN] ^= 1;
        assert_eq!(decode(&flipped), Decoded::Corrupt);
        assert_eq!(batch.records(), 2);
        assert_eq!(batch.payload_bytes(), 5);
    }

    #[test]
    fn failed_fill_leaves_batch_unchanged() {
        let mut batch = FrameBatch::default();
        batch.push(1, b"a");
        let before = batch.len();
        let r = batch.push_with(2, |buf| {
            buf.extend_from_slice(b"partial");
            Err("bad")
        });
        assert_eq!(r, Err("bad"));
        assert_eq!(batch.len(), before);
        assert_eq!(batch.records(), 1);
    }
}
