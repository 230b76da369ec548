//! SigV4 signing keys already derived, per access key and credential scope: deriving one takes
//! four HMACs (a fifth of a small request's verification), and a producer signs every request
//! of a day with the same one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// More scopes than this at once (many producers, regions or days) empties the cache rather
/// than letting it grow with what clients send.
const MAX_KEYS: usize = 1024;

/// The scope a signing key is derived for; the secret is the access key's.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Scope {
    access_key: String,
    date: String,
    region: String,
    service: String,
}

#[derive(Clone, Default)]
pub(super) struct SigningKeys {
    keys: Arc<Mutex<HashMap<Scope, [u8; 32]>>>,
}

impl SigningKeys {
    /// The signing key of `secret` for the scope, derived once.
    pub(super) fn get(
        &self,
        secret: &str,
        access_key: &str,
        (date, day): (&str, SystemTime),
        region: &str,
        service: &str,
    ) -> [u8; 32] {
        let scope = Scope {
            access_key: access_key.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        };
        if let Some(key) = self.lock().get(&scope) {
            return *key;
        }
        let derived = aws_sigv4::sign::v4::generate_signing_key(secret, day, region, service);
        let mut key = [0u8; 32];
        key.copy_from_slice(derived.as_ref());
        let mut keys = self.lock();
        if keys.len() >= MAX_KEYS {
            keys.clear();
        }
        keys.insert(scope, key);
        key
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Scope, [u8; 32]>> {
        // A panic while holding the lock leaves only whole entries behind.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_cached_key_is_the_derived_one_for_its_own_scope() {
        let keys = SigningKeys::default();
        let day = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_979_200); // 2015-08-31
        let derive = |secret, region| {
            let k = aws_sigv4::sign::v4::generate_signing_key(secret, day, region, "firehose");
            k.as_ref().to_vec()
        };
        let first = keys.get("s1", "AKID", ("20150831", day), "us-east-1", "firehose");
        assert_eq!(first.to_vec(), derive("s1", "us-east-1"));
        // Served from the cache: the same key again.
        let again = keys.get("s1", "AKID", ("20150831", day), "us-east-1", "firehose");
        assert_eq!(again, first);
        // Another region is another scope, not the cached key.
        let other = keys.get("s1", "AKID", ("20150831", day), "eu-west-1", "firehose");
        assert_eq!(other.to_vec(), derive("s1", "eu-west-1"));
        assert_ne!(other, first);
    }
}
