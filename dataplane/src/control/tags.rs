//! Tags: at most 50 per stream, keys and values under AWS's character and length rules.

use serde::{Deserialize, Serialize};

use crate::ingest::error::ApiError;

/// Most tags a stream holds.
pub const MAX_TAGS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value", default)]
    pub value: String,
}

/// Checks each tag's key (1-128 characters, not starting with `aws:`) and value (0-256), both
/// of letters, digits, spaces and `_.:/=+-@%`. `member` is the list's name in messages.
pub fn check(tags: &[Tag], member: &str) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let at = format!("{member}.{}.member", i + 1);
        check_key(&tag.key, &format!("{at}.key"), &mut errors);
        if tag.value.chars().count() > 256 {
            errors.push(format!(
                "Value '{}' at '{at}.value' failed to satisfy constraint: Member must have length less than or equal to 256",
                tag.value
            ));
        }
        if !tag.value.chars().all(allowed) {
            errors.push(pattern_error(
                &tag.value,
                &format!("{at}.value"),
                VALUE_PATTERN,
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(&errors))
    }
}

/// Checks tag keys given alone (UntagDeliveryStream, ExclusiveStartTagKey).
pub fn check_keys(keys: &[String], member: &str) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        check_key(key, &format!("{member}.{}.member", i + 1), &mut errors);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(&errors))
    }
}

const KEY_PATTERN: &str = r"^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$";
const VALUE_PATTERN: &str = r"^[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$";

fn check_key(key: &str, at: &str, errors: &mut Vec<String>) {
    let len = key.chars().count();
    if len == 0 || len > 128 {
        errors.push(format!(
            "Value '{key}' at '{at}' failed to satisfy constraint: Member must have length {}",
            if len == 0 {
                "greater than or equal to 1"
            } else {
                "less than or equal to 128"
            }
        ));
    }
    if key.starts_with("aws:") || !key.chars().all(allowed) {
        errors.push(pattern_error(key, at, KEY_PATTERN));
    }
}

fn pattern_error(value: &str, at: &str, pattern: &str) -> String {
    format!(
        "Value '{value}' at '{at}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
    )
}

/// `\p{L}\p{Z}\p{N}` and `_.:/=+-@%`.
fn allowed(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || c == '\u{a0}' || "_.:/=+-@%".contains(c) || {
        // The other space separators (\p{Z}): U+1680, U+2000-200A, U+2028-2029, U+202F, U+205F, U+3000.
        matches!(
            c,
            '\u{1680}' | '\u{2000}'
                ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
        )
    }
}

/// `current` with `new` upserted (a key given again takes the new value), refusing a result of
/// more than [`MAX_TAGS`] with `LimitExceededException`.
pub fn upsert(current: &[Tag], new: &[Tag]) -> Result<Vec<Tag>, ApiError> {
    let mut out = current.to_vec();
    for tag in new {
        match out.iter_mut().find(|t| t.key == tag.key) {
            Some(existing) => existing.value.clone_from(&tag.value),
            None => out.push(tag.clone()),
        }
    }
    if out.len() > MAX_TAGS {
        return Err(ApiError::limit_exceeded(format!(
            "A delivery stream can have at most {MAX_TAGS} tags; this request would give it {}.",
            out.len()
        )));
    }
    Ok(out)
}

/// `current` without `keys` (keys it does not have are ignored).
pub fn remove(current: &[Tag], keys: &[String]) -> Vec<Tag> {
    current
        .iter()
        .filter(|t| !keys.contains(&t.key))
        .cloned()
        .collect()
}

/// One page of ListTagsForDeliveryStream: tags sorted by key, strictly after `start`.
pub fn page<'a>(tags: &'a [Tag], start: Option<&str>, limit: usize) -> (Vec<&'a Tag>, bool) {
    let mut sorted: Vec<&Tag> = tags.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let after: Vec<&Tag> = sorted
        .into_iter()
        .filter(|t| start.is_none_or(|s| t.key.as_str() > s))
        .collect();
    let more = after.len() > limit;
    (after.into_iter().take(limit).collect(), more)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn keys_and_values_follow_the_rules() {
        assert!(
            check(
                &[tag("team", "data eng"), tag("cost:center", "a/b=c+d-e@f%")],
                "tags"
            )
            .is_ok()
        );
        assert!(check(&[tag("équipe", "données")], "tags").is_ok());
        let e = check(&[tag("aws:reserved", "x")], "tags").unwrap_err();
        assert_eq!(e.kind, "ValidationException");
        assert!(e.message.contains("tags.1.member.key"), "{}", e.message);
        assert!(check(&[tag("", "x")], "tags").is_err());
        assert!(check(&[tag(&"k".repeat(128), &"v".repeat(256))], "tags").is_ok());
        assert!(check(&[tag(&"k".repeat(129), "")], "tags").is_err());
        let e = check(&[tag("k", &"v".repeat(257))], "tags").unwrap_err();
        assert!(e.message.contains("tags.1.member.value"), "{}", e.message);
        assert!(check(&[tag("k", "semi;colon")], "tags").is_err());
    }

    #[test]
    fn upsert_replaces_values_and_enforces_the_limit() {
        let current: Vec<Tag> = (0..49).map(|i| tag(&format!("k{i}"), "v")).collect();
        let more = upsert(&current, &[tag("k0", "new"), tag("k49", "v")]).unwrap();
        assert_eq!(more.len(), 50);
        assert_eq!(more[0].value, "new");
        let e = upsert(&more, &[tag("k50", "v")]).unwrap_err();
        assert_eq!(e.kind, "LimitExceededException");
    }

    #[test]
    fn pages_resume_after_the_key() {
        let tags = vec![tag("c", ""), tag("a", ""), tag("b", "")];
        let (first, more) = page(&tags, None, 2);
        assert_eq!(
            first.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(more);
        let (rest, more) = page(&tags, Some("b"), 2);
        assert_eq!(rest.len(), 1);
        assert!(!more);
        assert_eq!(remove(&tags, &["a".into(), "zz".into()]).len(), 2);
    }
}
