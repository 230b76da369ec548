//! Records → rows of `COPY ... FROM STDIN WITH (FORMAT csv)`.
//!
//! CSV rather than COPY's text format because a CSV record can be passed through unchanged, and
//! one encoder serves both record formats: a JSON value becomes one CSV field (NULL is an
//! unquoted empty field; every present value is quoted, so an empty string stays a string).

use serde_json::Value;

use crate::record::Failure;

/// Why a record cannot become a row; it goes to the error output as is.
pub fn invalid(message: impl Into<String>) -> Failure {
    Failure::new("PostgreSQL.InvalidRecord", message)
}

/// Appends the CSV row of a JSON record: the values of `columns`, in order.
pub fn json_row(record: &[u8], columns: &[String], out: &mut Vec<u8>) -> Result<(), Failure> {
    let text = trim_newline(record);
    let value: Value = serde_json::from_slice(text)
        .map_err(|e| invalid(format!("the record is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(invalid("the record is JSON but not an object"));
    };
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match map.get(column) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => quote(s.as_bytes(), out)?,
            Some(Value::Bool(b)) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Some(Value::Number(n)) => out.extend_from_slice(n.to_string().as_bytes()),
            // Nested values load as JSON text (into json/jsonb or text columns).
            Some(nested) => quote(nested.to_string().as_bytes(), out)?,
        }
    }
    out.push(b'\n');
    Ok(())
}

/// Appends a CSV record as one row (its own quoting kept).
pub fn csv_row(record: &[u8], out: &mut Vec<u8>) -> Result<(), Failure> {
    let text = trim_newline(record);
    if text.contains(&0) {
        return Err(invalid("the record contains a NUL byte"));
    }
    if std::str::from_utf8(text).is_err() {
        return Err(invalid("the record is not UTF-8"));
    }
    if text == b"\\." {
        return Err(invalid("the record is COPY's end-of-data marker"));
    }
    out.extend_from_slice(text);
    out.push(b'\n');
    Ok(())
}

fn trim_newline(record: &[u8]) -> &[u8] {
    let r = record.strip_suffix(b"\n").unwrap_or(record);
    r.strip_suffix(b"\r").unwrap_or(r)
}

fn quote(value: &[u8], out: &mut Vec<u8>) -> Result<(), Failure> {
    if value.contains(&0) {
        // PostgreSQL text cannot hold NUL.
        return Err(invalid("a value contains a NUL character"));
    }
    out.push(b'"');
    for &b in value {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn json_records_map_keys_to_columns() {
        let mut out = Vec::new();
        json_row(
            br#"{"id":7,"name":"a \"q\", b","ok":true,"tags":[1,2],"gone":null,"empty":""}"#,
            &cols(&["id", "name", "ok", "tags", "missing", "gone", "empty"]),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "7,\"a \"\"q\"\", b\",true,\"[1,2]\",,,\"\"\n"
        );
    }

    #[test]
    fn bad_json_is_rejected_with_a_code() {
        let mut out = Vec::new();
        let e = json_row(b"{not json", &cols(&["a"]), &mut out).unwrap_err();
        assert_eq!(e.code, "PostgreSQL.InvalidRecord");
        assert!(json_row(b"[1]", &cols(&["a"]), &mut out).is_err());
        assert!(json_row(br#"{"a":"x\u0000"}"#, &cols(&["a"]), &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn csv_records_pass_through() {
        let mut out = Vec::new();
        csv_row(b"1,\"x,y\"\n", &mut out).unwrap();
        csv_row(b"2,z", &mut out).unwrap();
        assert_eq!(out, b"1,\"x,y\"\n2,z\n");
        assert!(csv_row(b"\\.", &mut out).is_err());
    }
}
