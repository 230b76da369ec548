//! The gateway's SigV4 keys: a file (mounted from a Secret) listing each access key with its
//! secret, the namespace whose streams it works on, and optionally the operations it may call.
//!
//! ```yaml
//! keys:
//!   - accessKeyId: AKIAPRODUCER
//!     secretAccessKey: s3cr3t
//!     namespace: analytics
//!     operations: [PutRecord, PutRecordBatch]   # absent: every operation
//! ```
//!
//! The file may be JSON too, and may be the bare list.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::ingest::sigv4::Credentials;

/// A keys file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing {path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// One access key as the file lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyEntry {
    access_key_id: String,
    secret_access_key: String,
    namespace: String,
    #[serde(default)]
    operations: Option<Vec<String>>,
    /// The IAM-style user named in AccessDeniedException messages.
    #[serde(default)]
    user: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum KeysFile {
    Wrapped { keys: Vec<KeyEntry> },
    List(Vec<KeyEntry>),
}

/// What a key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub namespace: String,
    /// `None`: every operation.
    operations: Option<Vec<String>>,
    /// Named in refusals: `arn:aws:iam::<account>:user/<user or access key id>`.
    pub user: String,
}

impl Grant {
    /// Whether the key may call `operation` (listed as `PutRecord`, `firehose:PutRecord`,
    /// `firehose:*` or `*`).
    pub fn allows(&self, operation: &str) -> bool {
        let Some(ops) = &self.operations else {
            return true;
        };
        ops.iter().any(|op| {
            let op = op.strip_prefix("firehose:").unwrap_or(op);
            op == "*" || op == operation
        })
    }
}

/// Every key: the signatures' credentials and each key's grant.
#[derive(Debug, Clone)]
pub struct Keys {
    pub credentials: Credentials,
    grants: HashMap<String, Grant>,
}

impl Keys {
    pub fn read(path: &Path, account: &str) -> Result<Keys, KeysError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeysError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, account).map_err(|e| match e {
            KeysError::Parse { message, .. } => KeysError::Parse {
                path: path.display().to_string(),
                message,
            },
            KeysError::Invalid { message, .. } => KeysError::Invalid {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    /// Parses a keys file's text (YAML or JSON).
    pub fn parse(text: &str, account: &str) -> Result<Keys, KeysError> {
        let file: KeysFile = serde_saphyr::from_str(text).map_err(|e| KeysError::Parse {
            path: String::new(),
            message: e.to_string(),
        })?;
        let entries = match file {
            KeysFile::Wrapped { keys } | KeysFile::List(keys) => keys,
        };
        let invalid = |message: String| KeysError::Invalid {
            path: String::new(),
            message,
        };
        let mut grants = HashMap::new();
        let mut pairs = Vec::new();
        for (i, e) in entries.into_iter().enumerate() {
            if e.access_key_id.is_empty() || e.secret_access_key.is_empty() {
                return Err(invalid(format!(
                    "key {}: accessKeyId and secretAccessKey must not be empty",
                    i + 1
                )));
            }
            if !is_namespace_name(&e.namespace) {
                return Err(invalid(format!(
                    "key {} ({}): namespace {:?} is not a namespace name",
                    i + 1,
                    e.access_key_id,
                    e.namespace
                )));
            }
            let user = format!(
                "arn:aws:iam::{account}:user/{}",
                e.user.as_deref().unwrap_or(&e.access_key_id)
            );
            let grant = Grant {
                namespace: e.namespace,
                operations: e.operations,
                user,
            };
            if grants.insert(e.access_key_id.clone(), grant).is_some() {
                return Err(invalid(format!(
                    "access key {} is listed twice",
                    e.access_key_id
                )));
            }
            pairs.push((e.access_key_id, e.secret_access_key));
        }
        Ok(Keys {
            credentials: Credentials::from_pairs(pairs),
            grants,
        })
    }

    /// The grant of an access key id.
    pub fn grant(&self, access_key_id: &str) -> Option<&Grant> {
        self.grants.get(access_key_id)
    }

    pub fn len(&self) -> usize {
        self.grants.len()
    }

    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }
}

/// An RFC 1123 label, as namespace names are.
fn is_namespace_name(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=63).contains(&name.len())
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && name.chars().all(|c| alnum(c) || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_files_list_keys_with_their_grants() {
        let keys = Keys::parse(
            "keys:\n  - accessKeyId: AKIDA\n    secretAccessKey: a\n    namespace: team-a\n  - accessKeyId: AKIDP\n    secretAccessKey: p\n    namespace: team-a\n    operations: [PutRecord, 'firehose:PutRecordBatch']\n    user: producer\n",
            "123456789012",
        )
        .expect("keys");
        assert_eq!(keys.len(), 2);
        let admin = keys.grant("AKIDA").expect("AKIDA");
        assert!(admin.allows("CreateDeliveryStream"));
        assert_eq!(admin.user, "arn:aws:iam::123456789012:user/AKIDA");
        let producer = keys.grant("AKIDP").expect("AKIDP");
        assert!(producer.allows("PutRecord") && producer.allows("PutRecordBatch"));
        assert!(!producer.allows("DeleteDeliveryStream"));
        assert_eq!(producer.user, "arn:aws:iam::123456789012:user/producer");
        assert!(keys.grant("AKIDX").is_none());

        let json = r#"[{"accessKeyId":"K","secretAccessKey":"s","namespace":"b","operations":["firehose:*"]}]"#;
        let keys = Keys::parse(json, "1").expect("json keys");
        assert!(keys.grant("K").expect("K").allows("UpdateDestination"));
    }

    #[test]
    fn unusable_files_are_refused_with_the_reason() {
        let dup = "- {accessKeyId: K, secretAccessKey: s, namespace: a}\n- {accessKeyId: K, secretAccessKey: t, namespace: b}\n";
        let e = Keys::parse(dup, "1").unwrap_err().to_string();
        assert!(e.contains("listed twice"), "{e}");
        let bad_ns = "- {accessKeyId: K, secretAccessKey: s, namespace: Not_A_Namespace}\n";
        assert!(Keys::parse(bad_ns, "1").is_err());
        let unknown = "- {accessKeyId: K, secretAccessKey: s, namespace: a, role: admin}\n";
        assert!(Keys::parse(unknown, "1").is_err());
        let empty = "- {accessKeyId: K, secretAccessKey: '', namespace: a}\n";
        assert!(Keys::parse(empty, "1").is_err());
    }
}
