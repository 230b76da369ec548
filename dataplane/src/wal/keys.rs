//! Keys for encryption at rest: a [`SegmentKey`] names the key (its id is written in every
//! segment sealed with it) and holds the 32 key bytes; a [`Keyring`] holds every key a log can
//! read with, so segments written before a switch of keys stay readable.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use zeroize::Zeroizing;

use super::WalError;

/// Longest key id: its length is one byte in a sealed segment's header.
pub const MAX_KEY_ID_LEN: usize = 255;

/// An AES-256 key and the id segments name it by. The key bytes are wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SegmentKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl SegmentKey {
    /// A key named `id` (1 to 255 bytes, no control characters: it is written in headers
    /// and error messages).
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Result<Self, WalError> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_KEY_ID_LEN || id.chars().any(char::is_control) {
            return Err(WalError::KeyId(id));
        }
        Ok(Self {
            id,
            key: Zeroizing::new(key),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

impl std::fmt::Debug for SegmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key bytes: configs and errors are logged.
        f.debug_struct("SegmentKey").field("id", &self.id).finish()
    }
}

/// The keys a log reads with, by id. Shared by the writer, every reader and the spools.
#[derive(Debug, Default)]
pub struct Keyring {
    keys: RwLock<HashMap<String, Arc<SegmentKey>>>,
}

impl Keyring {
    /// Adds `key`, or returns the one already known by its id. Two different keys under one id
    /// are refused: segments name keys by id only.
    pub fn insert(&self, key: SegmentKey) -> Result<Arc<SegmentKey>, WalError> {
        let mut keys = self.keys.write().map_err(|_| WalError::Failed)?;
        if let Some(known) = keys.get(key.id()) {
            if **known != key {
                return Err(WalError::KeyConflict(key.id().to_owned()));
            }
            return Ok(known.clone());
        }
        let key = Arc::new(key);
        keys.insert(key.id().to_owned(), key.clone());
        Ok(key)
    }

    pub fn get(&self, id: &str) -> Option<Arc<SegmentKey>> {
        self.keys.read().ok()?.get(id).cloned()
    }
}

/// The key new writes are sealed with (none: plaintext), shared by the log's handles and the
/// partition spools beside it. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct CurrentKey(Arc<RwLock<Option<Arc<SegmentKey>>>>);

impl CurrentKey {
    pub fn new(key: Option<Arc<SegmentKey>>) -> Self {
        Self(Arc::new(RwLock::new(key)))
    }

    /// The key to seal with now, if encryption is on.
    pub fn get(&self) -> Option<Arc<SegmentKey>> {
        self.0
            .read()
            .map(|k| k.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Switches the key. A log switches with `Wal::set_encryption`, which also adds the key to
    /// its keyring (without it the log could not read what it seals).
    pub(crate) fn set(&self, key: Option<Arc<SegmentKey>>) {
        match self.0.write() {
            Ok(mut current) => *current = key,
            Err(e) => *e.into_inner() = key,
        }
    }

    pub fn is_on(&self) -> bool {
        self.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_and_one_id_names_one_key() {
        assert!(SegmentKey::new("", [0; 32]).is_err());
        assert!(SegmentKey::new("a\nb", [0; 32]).is_err());
        assert!(SegmentKey::new("x".repeat(256), [0; 32]).is_err());
        let ring = Keyring::default();
        let a = SegmentKey::new("a", [1; 32]).expect("key");
        ring.insert(a.clone()).expect("insert");
        ring.insert(a).expect("the same key again is fine");
        let other = SegmentKey::new("a", [2; 32]).expect("key");
        assert!(matches!(ring.insert(other), Err(WalError::KeyConflict(_))));
        assert!(ring.get("a").is_some() && ring.get("b").is_none());
        assert!(!format!("{:?}", ring.get("a")).contains("1, 1"));
    }
}
