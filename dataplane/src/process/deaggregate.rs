//! `RecordDeAggregation`: one record holding several sub-records becomes several records.

use crate::record::Failure;

/// Splits concatenated (or newline-separated) JSON objects; arrays are not split (Firehose).
pub fn json(record: &[u8]) -> Result<Vec<&[u8]>, Failure> {
    // From bytes, serde_json checks UTF-8 only in the strings it keeps, and this keeps none.
    let text = std::str::from_utf8(record).map_err(|e| {
        Failure::new(
            "RecordDeAggregation.InvalidJson",
            format!("the record is not UTF-8: {e}"),
        )
    })?;
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>();
    let mut start = 0;
    while let Some(item) = stream.next() {
        item.map_err(|e| {
            Failure::new(
                "RecordDeAggregation.InvalidJson",
                format!("the record is not a sequence of JSON objects: {e}"),
            )
        })?;
        let end = stream.byte_offset();
        let sub = trim(&record[start..end]);
        if sub.first() != Some(&b'{') {
            return Err(Failure::new(
                "RecordDeAggregation.InvalidJson",
                "a sub-record is JSON but not an object",
            ));
        }
        out.push(sub);
        start = end;
    }
    Ok(out)
}

/// Splits on `delimiter`; empty pieces are dropped.
pub fn delimited<'a>(record: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = record;
    while let Some(i) = find(rest, delimiter) {
        if i > 0 {
            out.push(&rest[..i]);
        }
        rest = &rest[i + delimiter.len()..];
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Splits a Kinesis Producer Library aggregated record (see [`crate::record::kpl`]).
pub fn kpl(record: &[u8]) -> Result<Vec<&[u8]>, Failure> {
    crate::record::kpl::split(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_split_whatever_the_whitespace() {
        let parts = json(b"{\"a\":1}{\"b\":{\"c\":2}}\n {\"d\":\"}{\"}\n").unwrap();
        assert_eq!(
            parts,
            vec![&b"{\"a\":1}"[..], b"{\"b\":{\"c\":2}}", b"{\"d\":\"}{\"}"]
        );
        assert!(json(b"{\"a\":1}{oops").is_err());
        assert!(json(b"[1,2]").is_err());
    }

    #[test]
    fn delimited_records_split_on_the_delimiter() {
        assert_eq!(
            delimited(b"a####bb########c####", b"####"),
            vec![&b"a"[..], b"bb", b"c"]
        );
        assert_eq!(delimited(b"plain", b"##"), vec![&b"plain"[..]]);
    }
}
