//! The sealed (encrypted) file format, shared by log segments and partition spools:
//!
//! ```text
//! header: "HYDE" | version u8 (1) | kind u8 | key id length u8 | key id | salt 12 B | crc32c u32
//! chunk:  plaintext length u32 | ciphertext | GCM tag 16 B          (repeated)
//! ```
//!
//! Integers are little-endian. The header names the key by id, never the key. Each file gets
//! its own AES-256-GCM subkey, derived from the named key and the file's random salt, and
//! chunk `i` of a file is sealed under the nonce `i`: nonces never repeat under one subkey, and
//! a collision of two files' subkeys needs two equal 96-bit random salts. The associated data
//! binds each chunk to the file's kind, its context (a segment's first sequence number, so a
//! renamed segment fails), its index (chunks cannot be reordered or dropped from the middle)
//! and its length. The first four bytes, read as a plaintext frame's length, exceed the
//! largest record, so a plaintext segment is never mistaken for a sealed one or vice versa.

use std::io;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};
use zeroize::Zeroizing;

use super::keys::{MAX_KEY_ID_LEN, SegmentKey};

pub const MAGIC: [u8; 4] = *b"HYDE";
pub const VERSION: u8 = 1;
const SALT_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// The length field before each chunk's ciphertext.
pub const LEN_FIELD: usize = 4;
/// Bytes a chunk adds to its plaintext.
pub const CHUNK_OVERHEAD: usize = LEN_FIELD + TAG_LEN;
/// Header bytes before the key id, and after it.
const HEADER_FIXED: usize = 4 + 3;
const HEADER_TAIL: usize = SALT_LEN + 4;
/// The longest header: what must be read to parse any.
pub const MAX_HEADER_LEN: usize = HEADER_FIXED + MAX_KEY_ID_LEN + HEADER_TAIL;

/// What a sealed file holds: subkeys and chunks of one kind never open as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Segment = 1,
    Spool = 2,
}

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub key_id: String,
    salt: [u8; SALT_LEN],
    /// Bytes the header takes in the file.
    pub len: usize,
}

/// The outcome of reading the start of a file as a header.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderRead {
    Header(Header),
    /// The file does not start with the magic: a plaintext file.
    NotSealed,
    /// The bytes end inside the header.
    Incomplete,
    /// The magic is there but the rest is damaged, or of a version this build cannot read.
    Corrupt,
}

/// Reads the header at the start of `buf`.
pub fn read_header(buf: &[u8]) -> HeaderRead {
    if buf.len() < MAGIC.len() {
        return if MAGIC.starts_with(buf) {
            HeaderRead::Incomplete
        } else {
            HeaderRead::NotSealed
        };
    }
    if buf[..4] != MAGIC {
        return HeaderRead::NotSealed;
    }
    if buf.len() < HEADER_FIXED {
        return HeaderRead::Incomplete;
    }
    let id_len = buf[6] as usize;
    let len = HEADER_FIXED + id_len + HEADER_TAIL;
    if buf.len() < len {
        return HeaderRead::Incomplete;
    }
    let crc = u32::from_le_bytes([buf[len - 4], buf[len - 3], buf[len - 2], buf[len - 1]]);
    if crc32c::crc32c(&buf[..len - 4]) != crc || buf[4] != VERSION {
        return HeaderRead::Corrupt;
    }
    let kind = match buf[5] {
        1 => Kind::Segment,
        2 => Kind::Spool,
        _ => return HeaderRead::Corrupt,
    };
    let Ok(key_id) = std::str::from_utf8(&buf[HEADER_FIXED..HEADER_FIXED + id_len]) else {
        return HeaderRead::Corrupt;
    };
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&buf[HEADER_FIXED + id_len..len - 4]);
    HeaderRead::Header(Header {
        kind,
        key_id: key_id.to_owned(),
        salt,
        len,
    })
}

fn encode_header(kind: Kind, key_id: &str, salt: &[u8; SALT_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_FIXED + key_id.len() + HEADER_TAIL);
    out.extend_from_slice(&MAGIC);
    // The id length fits a byte: SegmentKey::new checks it.
    out.extend_from_slice(&[VERSION, kind as u8, key_id.len() as u8]);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(salt);
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The file's subkey: the named key encrypts 32 zero bytes under the salt as nonce (AES-CTR
/// keystream, a PRF of the salt). The named key itself seals nothing else.
fn subkey(key: &SegmentKey, kind: Kind, salt: &[u8; SALT_LEN]) -> io::Result<Aes256Gcm> {
    let master = Aes256Gcm::new_from_slice(key.bytes()).map_err(io::Error::other)?;
    let mut derived = Zeroizing::new([0u8; 32]);
    master
        .encrypt_inout_detached(
            &Nonce::<Aes256Gcm>::from(*salt),
            &[b"hydrant subkey".as_slice(), &[VERSION, kind as u8]].concat(),
            derived.as_mut_slice().into(),
        )
        .map_err(io::Error::other)?;
    Aes256Gcm::new_from_slice(derived.as_slice()).map_err(io::Error::other)
}

fn nonce(index: u64) -> Nonce<Aes256Gcm> {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&index.to_le_bytes());
    Nonce::<Aes256Gcm>::from(n)
}

fn aad(kind: Kind, context: u64, index: u64, len: u32) -> [u8; 26] {
    let mut a = [0u8; 26];
    a[..4].copy_from_slice(&MAGIC);
    a[4] = VERSION;
    a[5] = kind as u8;
    a[6..14].copy_from_slice(&context.to_le_bytes());
    a[14..22].copy_from_slice(&index.to_le_bytes());
    a[22..].copy_from_slice(&len.to_le_bytes());
    a
}

/// Seals the chunks of one new file.
pub struct Sealer {
    cipher: Aes256Gcm,
    kind: Kind,
    context: u64,
    next: u64,
    key_id: String,
    header: Vec<u8>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("key_id", &self.key_id)
            .field("next", &self.next)
            .finish()
    }
}

impl Sealer {
    /// A sealer for a new file with a fresh random salt. `context` is bound into every chunk.
    pub fn new(key: &SegmentKey, kind: Kind, context: u64) -> io::Result<Self> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(io::Error::other)?;
        Ok(Self {
            cipher: subkey(key, kind, &salt)?,
            kind,
            context,
            next: 0,
            key_id: key.id().to_owned(),
            header: encode_header(kind, key.id(), &salt),
        })
    }

    /// The bytes the file starts with.
    pub fn header(&self) -> &[u8] {
        &self.header
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// An opener for the chunks this sealer seals (files written and read back by one
    /// process, such as partition spools).
    pub fn opener(&self) -> Opener {
        Opener {
            cipher: self.cipher.clone(),
            kind: self.kind,
            context: self.context,
        }
    }

    /// Starts a chunk at the end of `out`; append its plaintext, then [`Sealer::finish`] it.
    pub fn begin(out: &mut Vec<u8>) -> usize {
        let start = out.len();
        out.extend_from_slice(&[0u8; LEN_FIELD]);
        start
    }

    /// Encrypts in place the plaintext appended to `out` since [`Sealer::begin`] returned
    /// `start`, fills in its length and appends the tag.
    pub fn finish(&mut self, out: &mut Vec<u8>, start: usize) -> io::Result<()> {
        let len = u32::try_from(out.len() - start - LEN_FIELD)
            .map_err(|_| io::Error::other("a sealed chunk is over 4 GiB"))?;
        out[start..start + LEN_FIELD].copy_from_slice(&len.to_le_bytes());
        let index = self.next;
        let tag = self
            .cipher
            .encrypt_inout_detached(
                &nonce(index),
                &aad(self.kind, self.context, index, len),
                (&mut out[start + LEN_FIELD..]).into(),
            )
            .map_err(io::Error::other)?;
        out.extend_from_slice(tag.as_slice());
        self.next += 1;
        Ok(())
    }
}

/// Opens the chunks of one sealed file.
pub struct Opener {
    cipher: Aes256Gcm,
    kind: Kind,
    context: u64,
}

impl Opener {
    pub fn new(key: &SegmentKey, header: &Header, context: u64) -> io::Result<Self> {
        Ok(Self {
            cipher: subkey(key, header.kind, &header.salt)?,
            kind: header.kind,
            context,
        })
    }

    /// The plaintext of every chunk of `sealed` (a whole file after its header), decrypted in
    /// place and concatenated; `None` if a chunk is cut short or fails authentication.
    pub fn open_all(&self, sealed: &mut [u8]) -> Option<Vec<u8>> {
        let mut plain = Vec::with_capacity(sealed.len());
        let mut at = 0usize;
        let mut index = 0u64;
        while at < sealed.len() {
            let field = sealed.get(at..at + LEN_FIELD)?;
            let len = Self::chunk_len([field[0], field[1], field[2], field[3]]) as usize;
            let chunk = sealed.get_mut(at..at + len)?;
            let range = self.open(index, chunk)?;
            plain.extend_from_slice(&chunk[range]);
            at += len;
            index += 1;
        }
        Some(plain)
    }

    /// The whole length of the chunk whose length field is `field`.
    pub fn chunk_len(field: [u8; LEN_FIELD]) -> u64 {
        u64::from(u32::from_le_bytes(field)) + CHUNK_OVERHEAD as u64
    }

    /// Decrypts in place the complete chunk number `index` (length field, ciphertext, tag);
    /// returns where its plaintext is, or `None` if it fails authentication.
    pub fn open(&self, index: u64, chunk: &mut [u8]) -> Option<std::ops::Range<usize>> {
        if chunk.len() < CHUNK_OVERHEAD {
            return None;
        }
        let field = [chunk[0], chunk[1], chunk[2], chunk[3]];
        let len = u32::from_le_bytes(field);
        if Self::chunk_len(field) != chunk.len() as u64 {
            return None;
        }
        let (body, tag) = chunk.split_at_mut(chunk.len() - TAG_LEN);
        let tag = Tag::<Aes256Gcm>::try_from(&*tag).ok()?;
        self.cipher
            .decrypt_inout_detached(
                &nonce(index),
                &aad(self.kind, self.context, index, len),
                (&mut body[LEN_FIELD..]).into(),
                &tag,
            )
            .ok()?;
        Some(LEN_FIELD..body.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> SegmentKey {
        SegmentKey::new(id, [byte; 32]).expect("key")
    }

    fn sealed(sealer: &mut Sealer, plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let start = Sealer::begin(&mut out);
        out.extend_from_slice(plain);
        sealer.finish(&mut out, start).expect("seal");
        out
    }

    #[test]
    fn chunks_open_only_in_their_place() {
        let k = key("k1", 7);
        let mut sealer = Sealer::new(&k, Kind::Segment, 100).expect("sealer");
        let HeaderRead::Header(header) = read_header(sealer.header()) else {
            panic!("header")
        };
        assert_eq!(
            (header.key_id.as_str(), header.len),
            ("k1", sealer.header().len())
        );
        let first = sealed(&mut sealer, b"first chunk");
        let second = sealed(&mut sealer, b"second chunk");
        assert!(!first.windows(5).any(|w| w == b"first"), "no plaintext");
        let opener = Opener::new(&k, &header, 100).expect("opener");
        let mut c = first.clone();
        let r = opener.open(0, &mut c).expect("opens");
        assert_eq!(&c[r], b"first chunk");
        // Out of order, in another segment, under another key, or altered: refused.
        assert!(opener.open(0, &mut second.clone()).is_none());
        let elsewhere = Opener::new(&k, &header, 101).expect("opener");
        assert!(elsewhere.open(0, &mut first.clone()).is_none());
        let other = Opener::new(&key("k1", 8), &header, 100).expect("opener");
        assert!(other.open(0, &mut first.clone()).is_none());
        let mut flipped = first.clone();
        flipped[6] ^= 1;
        assert!(opener.open(0, &mut flipped).is_none());
        assert!(opener.open(1, &mut second.clone()).is_some());
    }

    #[test]
    fn headers_are_told_from_plaintext_and_checked() {
        let sealer = Sealer::new(&key("id", 1), Kind::Spool, 0).expect("sealer");
        let h = sealer.header().to_vec();
        assert!(matches!(read_header(&h), HeaderRead::Header(x) if x.kind == Kind::Spool));
        assert_eq!(read_header(&h[..h.len() - 1]), HeaderRead::Incomplete);
        assert_eq!(read_header(&h[..2]), HeaderRead::Incomplete);
        let mut bad = h.clone();
        bad[8] ^= 1;
        assert_eq!(read_header(&bad), HeaderRead::Corrupt);
        let mut frames = super::super::FrameBatch::default();
        frames.push(1, b"plain");
        assert_eq!(read_header(frames.as_bytes()), HeaderRead::NotSealed);
        assert!(u32::from_le_bytes(MAGIC) as usize > super::super::frame::MAX_RECORD_LEN);
        let other = Sealer::new(&key("id", 1), Kind::Spool, 0).expect("sealer");
        assert_ne!(other.header(), sealer.header(), "a fresh salt per file");
    }
}
