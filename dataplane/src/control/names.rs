//! The `DeliveryStreamName` rules, and the object name a stream gets where names must be DNS
//! labels (a cluster object, a metrics label).

use crate::ingest::error::ApiError;

/// Checks `name` against the API's constraints (1-64 characters of `[a-zA-Z0-9_.-]`), with
/// the validation message AWS gives. `member` is the member's name in the message.
pub fn check(name: &str, member: &str) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 64 {
        errors.push(format!(
            "Value '{name}' at '{member}' failed to satisfy constraint: Member must have length {}",
            if name.is_empty() {
                "greater than or equal to 1"
            } else {
                "less than or equal to 64"
            }
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        errors.push(format!(
            "Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(&errors))
    }
}

/// A DNS label for a `DeliveryStreamName`: the name itself when it already is one, else the name
/// lower-cased with `_` and `.` turned into `-`, plus a hash of the original so that `My.Stream`
/// and `my-stream` stay distinct.
pub fn object_name(name: &str) -> String {
    if is_dns_label(name) {
        return name.to_owned();
    }
    let mut base: String = name
        .chars()
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'a'..='z' | '0'..='9' => c,
            _ => '-',
        })
        .collect();
    base = base.trim_matches('-').to_owned();
    if !base.starts_with(|c: char| c.is_ascii_lowercase()) {
        base.insert_str(0, "s-");
    }
    base.truncate(54);
    let base = base.trim_end_matches('-');
    format!("{base}-{:08x}", fnv1a(name.as_bytes()))
}

fn is_dns_label(name: &str) -> bool {
    name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A stable 32-bit hash (the std hasher's output may change between releases).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_api_rules() {
        assert!(check("my-stream_1.x", "deliveryStreamName").is_ok());
        let e = check("bad name", "deliveryStreamName").unwrap_err();
        assert_eq!(e.kind, "ValidationException");
        assert!(
            e.message.contains("regular expression pattern"),
            "{}",
            e.message
        );
        let long = "a".repeat(65);
        let e = check(&long, "deliveryStreamName").unwrap_err();
        assert!(
            e.message.contains("less than or equal to 64"),
            "{}",
            e.message
        );
        assert!(check(&"a".repeat(64), "deliveryStreamName").is_ok());
        assert!(check("", "deliveryStreamName").is_err());
    }

    #[test]
    fn object_names_are_dns_labels_and_distinct() {
        assert_eq!(object_name("orders"), "orders");
        let a = object_name("My.Stream");
        let b = object_name("my-stream");
        assert_ne!(a, b);
        assert!(is_dns_label(&a), "{a}");
        assert!(is_dns_label(&object_name("9lives")));
        assert!(is_dns_label(&object_name(&"X".repeat(64))));
        assert!(is_dns_label(&object_name("_")));
    }
}
