//! Secret-valued API fields (Splunk HECToken, HttpEndpoint AccessKey, Redshift Username and
//! Password) become Secret names in the spec, by the installation's `SecretPolicy`.

use std::collections::BTreeMap;

use super::{Fault, NewSecret, SecretPolicy, arn::is_secret_name};

/// Purposes: the suffix of an inline Secret's name, `<stream>-<purpose>`.
pub(crate) const HEC_TOKEN: &str = "hec-token";
pub(crate) const ACCESS_KEY: &str = "access-key";
pub(crate) const REDSHIFT: &str = "redshift-credentials";

/// Where the name of a Secret comes from when its field is absent.
pub(crate) enum Fallback {
    /// Nowhere: the field is needed (CreateDeliveryStream).
    None,
    /// The inline convention `<stream>-<purpose>` (a description: values are never reported).
    Convention,
    /// The names the current spec uses, by purpose (UpdateDestination).
    Known(BTreeMap<&'static str, String>),
}

/// Collects the Secrets a translation needs written.
pub(crate) struct Secrets<'a> {
    policy: SecretPolicy,
    stream: String,
    fallback: &'a Fallback,
    pub(crate) created: Vec<NewSecret>,
}

impl<'a> Secrets<'a> {
    pub(crate) fn new(policy: SecretPolicy, stream: &str, fallback: &'a Fallback) -> Self {
        Self {
            policy,
            stream: stream.to_owned(),
            fallback,
            created: Vec::new(),
        }
    }

    /// The inline Secret's name: the stream name as a DNS label (lowercase, other characters
    /// as `-`), then the purpose.
    pub(crate) fn inline_name(stream: &str, purpose: &str) -> String {
        let label: String = stream
            .chars()
            .map(|c| match c.to_ascii_lowercase() {
                c @ ('a'..='z' | '0'..='9') => c,
                _ => '-',
            })
            .collect();
        format!("{}-{purpose}", label.trim_matches('-'))
    }

    fn fallback(&self, purpose: &'static str) -> Option<String> {
        match self.fallback {
            Fallback::None => None,
            Fallback::Convention => Some(Self::inline_name(&self.stream, purpose)),
            Fallback::Known(names) => names.get(purpose).cloned(),
        }
    }

    /// One secret-valued field (`path`) whose value the Secret holds under `key`.
    pub(crate) fn single(
        &mut self,
        path: &str,
        purpose: &'static str,
        key: &str,
        value: Option<&str>,
    ) -> Result<Option<String>, Fault> {
        let Some(value) = value else {
            return Ok(self.fallback(purpose));
        };
        match self.policy {
            SecretPolicy::Inline => {
                let name = Self::inline_name(&self.stream, purpose);
                self.write(&name, &[(key, value)]);
                Ok(Some(name))
            }
            SecretPolicy::Reference => reference(path, value, &format!("key `{key}`")).map(Some),
        }
    }

    /// Redshift's Username and Password: one Secret with keys `username` and `password`.
    pub(crate) fn credentials(
        &mut self,
        path: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<Option<String>, Fault> {
        let keys = "keys `username` and `password`";
        match self.policy {
            SecretPolicy::Inline => match (username, password) {
                (Some(u), Some(p)) => {
                    let name = Self::inline_name(&self.stream, REDSHIFT);
                    self.write(&name, &[("username", u), ("password", p)]);
                    Ok(Some(name))
                }
                _ => Ok(self.fallback(REDSHIFT)),
            },
            SecretPolicy::Reference => {
                let user = username
                    .map(|u| reference(&format!("{path}.Username"), u, keys))
                    .transpose()?;
                let pass = password
                    .map(|p| reference(&format!("{path}.Password"), p, keys))
                    .transpose()?;
                match (user, pass) {
                    (Some(u), Some(p)) if u != p => Err(Fault::invalid(format!(
                        "{path}: Username and Password must name the same Secret (`secret:<name>`, with {keys})"
                    ))),
                    (Some(name), _) | (None, Some(name)) => Ok(Some(name)),
                    (None, None) => Ok(self.fallback(REDSHIFT)),
                }
            }
        }
    }

    fn write(&mut self, name: &str, data: &[(&str, &str)]) {
        self.created.retain(|s| s.name != name);
        self.created.push(NewSecret {
            name: name.to_owned(),
            data: data
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        });
    }
}

/// `secret:<name>` → `<name>`; anything else is refused with the convention.
fn reference(path: &str, value: &str, keys: &str) -> Result<String, Fault> {
    match value.strip_prefix("secret:") {
        Some(name) if is_secret_name(name) => Ok(name.to_owned()),
        _ => Err(Fault::invalid(format!(
            "{path}: this installation does not store secret values; give `secret:<name>` naming an existing Kubernetes Secret in the stream's namespace, with {keys}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_writes_and_reference_names() {
        let none = Fallback::None;
        let mut s = Secrets::new(SecretPolicy::Inline, "My_Stream", &none);
        let name = s.single("S.HECToken", HEC_TOKEN, "token", Some("t0k"));
        assert_eq!(name.unwrap().as_deref(), Some("my-stream-hec-token"));
        assert_eq!(s.created[0].data["token"], "t0k");

        let mut s = Secrets::new(SecretPolicy::Reference, "s", &none);
        let name = s.single("S.HECToken", HEC_TOKEN, "token", Some("secret:hec"));
        assert_eq!(name.unwrap().as_deref(), Some("hec"));
        assert!(s.created.is_empty());
        let err = s
            .single("S.HECToken", HEC_TOKEN, "token", Some("abc"))
            .unwrap_err();
        assert!(err.message.starts_with(
            "S.HECToken: this installation does not store secret values; give `secret:<name>`"
        ));
        let err = s
            .credentials("R", Some("secret:a"), Some("secret:b"))
            .unwrap_err();
        assert!(err.message.contains("must name the same Secret"));
        assert_eq!(
            s.credentials("R", Some("secret:a"), None)
                .unwrap()
                .as_deref(),
            Some("a")
        );
    }
}
