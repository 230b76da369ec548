//! Firehose's request limits and AWS's validation messages for them.

/// Largest record, in decoded bytes.
pub const MAX_RECORD_BYTES: usize = 1_024_000;
/// Most records in one PutRecordBatch.
pub const MAX_BATCH_RECORDS: usize = 500;
/// Largest PutRecordBatch, in decoded bytes.
pub const MAX_BATCH_BYTES: usize = 4 << 20;
/// Largest Firehose API request body: 4 MiB of records in base64 plus JSON framing fits well
/// below this; anything larger is refused before it is buffered.
pub const MAX_BODY_BYTES: usize = 8 << 20;
/// Largest body of the plain newline-delimited endpoint.
pub const MAX_PLAIN_BODY_BYTES: usize = 16 << 20;
/// Most lines (records) in one body of the plain endpoint. Each record's frame in the log has a
/// 16-byte header, so this bounds a body's frames at 16 MiB more than its lines: a body of empty
/// lines cannot make 16 times its size in memory.
pub const MAX_PLAIN_RECORDS: usize = 1 << 20;

/// AWS's wording for a null required member.
pub fn null_member(path: &str) -> String {
    format!("Value null at '{path}' failed to satisfy constraint: Member must not be null")
}

/// Validation messages for a `DeliveryStreamName`, empty when valid.
pub fn check_stream_name(name: Option<&str>, errors: &mut Vec<String>) {
    let path = "deliveryStreamName";
    let Some(name) = name else {
        errors.push(null_member(path));
        return;
    };
    if name.is_empty() {
        errors.push(format!(
            "Value '{name}' at '{path}' failed to satisfy constraint: Member must have length greater than or equal to 1"
        ));
    }
    if name.chars().count() > 64 {
        errors.push(format!(
            "Value '{name}' at '{path}' failed to satisfy constraint: Member must have length less than or equal to 64"
        ));
    }
    if !name.is_empty()
        && !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        errors.push(format!(
            "Value '{name}' at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        ));
    }
}

/// The message for a record over the size limit; `path` like `records.97.member.data`.
pub fn record_too_large(path: &str, len: usize) -> String {
    format!(
        "Value 'java.nio.HeapByteBuffer[pos=0 lim={len} cap={len}]' at '{path}' failed to satisfy constraint: Member must have length less than or equal to {MAX_RECORD_BYTES}"
    )
}

/// The length of the bytes a standard, padded base64 text decodes to, or None when the text
/// cannot be valid base64.
pub fn decoded_len(text: &str) -> Option<usize> {
    let len = text.len();
    if !len.is_multiple_of(4) {
        return None;
    }
    let padding = text
        .bytes()
        .rev()
        .take(2)
        .take_while(|&b| b == b'=')
        .count();
    Some(len / 4 * 3 - padding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_length_matches_base64() {
        assert_eq!(decoded_len(""), Some(0));
        assert_eq!(decoded_len("aGk="), Some(2));
        assert_eq!(decoded_len("aGVsbG8="), Some(5));
        assert_eq!(decoded_len("aGVsbG8h"), Some(6));
        assert_eq!(decoded_len("aGk"), None);
    }

    #[test]
    fn stream_name_rules() {
        let mut e = Vec::new();
        check_stream_name(Some("ok-name_1.2"), &mut e);
        assert!(e.is_empty());
        check_stream_name(Some(&"a".repeat(65)), &mut e);
        check_stream_name(Some("bad name"), &mut e);
        check_stream_name(Some(""), &mut e);
        check_stream_name(None, &mut e);
        assert_eq!(e.len(), 4);
        assert!(e[0].contains("less than or equal to 64"));
        assert!(e[1].contains("regular expression"));
        assert!(e[2].contains("greater than or equal to 1"));
        assert!(e[3].contains("must not be null"));
    }
}
