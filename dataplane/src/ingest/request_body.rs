//! The JSON API's request bodies: the checks every operation's body passes, and the bodies of
//! PutRecord and PutRecordBatch, read without copying the records' base64 text.
//!
//! The put bodies are deserialised by hand: a struct serde derives also accepts a JSON array of
//! its members in declaration order (`["name", [["data"]]]`), which the API refuses as a
//! serialization error. Other operations' bodies are derived; [`parse`] refuses a body that is
//! not an object, and arrays deeper in them are read as serde reads them.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::error::ApiError;

/// Reads an operation's body (an empty body is `{}`) or answers a `SerializationException`.
pub(crate) fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    // From bytes, serde_json checks UTF-8 only in the strings it keeps: invalid bytes in a member
    // it skips (an unknown one) would pass as JSON.
    let body = std::str::from_utf8(body).map_err(|e| {
        ApiError::serialization(format!("The request body is not valid UTF-8: {e}"))
    })?;
    if !body.trim_start().starts_with('{') {
        return Err(ApiError::serialization(
            "The request body is not valid for this operation: expected a JSON object",
        ));
    }
    serde_json::from_str(body).map_err(|e| {
        ApiError::serialization(format!(
            "The request body is not valid for this operation: {e}"
        ))
    })
}

/// One member of `Records`, or PutRecord's `Record`.
pub(super) struct RecordIn<'a> {
    pub data: Option<Cow<'a, str>>,
}

pub(super) struct PutRecordBatchIn<'a> {
    pub name: Option<Cow<'a, str>>,
    pub records: Option<Vec<RecordIn<'a>>>,
}

pub(super) struct PutRecordIn<'a> {
    pub name: Option<Cow<'a, str>>,
    pub record: Option<RecordIn<'a>>,
}

/// A string member, borrowed from the body when it holds no escapes.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

fn text(value: Option<Text<'_>>) -> Option<Cow<'_, str>> {
    value.map(|t| t.0)
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum Member {
    DeliveryStreamName,
    Records,
    Record,
    Data,
    #[serde(other)]
    Unknown,
}

/// Reads an object member by member; `read` takes the members the shape knows and returns
/// false for the others, which are skipped (the API ignores members it does not know).
fn read_members<'de, A: MapAccess<'de>>(
    mut map: A,
    mut read: impl FnMut(Member, &mut A) -> Result<bool, A::Error>,
) -> Result<(), A::Error> {
    while let Some(member) = map.next_key::<Member>()? {
        if !read(member, &mut map)? {
            map.next_value::<IgnoredAny>()?;
        }
    }
    Ok(())
}

/// Sets a member once: a repeated member is refused, as serde's derived structs refuse it.
fn set_once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    slot: &mut Option<Option<T>>,
    name: &'static str,
    map: &mut A,
) -> Result<bool, A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(true)
}

/// Visits only maps: the array form is refused with serde's "invalid type" message.
struct ObjectVisitor<T>(PhantomData<T>);

macro_rules! object_visitor {
    ($shape:ident, $expecting:literal, |$map:ident| $body:block) => {
        impl<'de: 'a, 'a> Visitor<'de> for ObjectVisitor<$shape<'a>> {
            type Value = $shape<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($expecting)
            }

            fn visit_map<A: MapAccess<'de>>(self, $map: A) -> Result<Self::Value, A::Error> $body
        }

        impl<'de: 'a, 'a> Deserialize<'de> for $shape<'a> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_map(ObjectVisitor::<$shape<'a>>(PhantomData))
            }
        }
    };
}

object_visitor!(RecordIn, "a Record object", |map| {
    let mut data: Option<Option<Text<'a>>> = None;
    read_members(map, |member, map| match member {
        Member::Data => set_once(&mut data, "Data", map),
        _ => Ok(false),
    })?;
    Ok(RecordIn {
        data: text(data.flatten()),
    })
});

object_visitor!(PutRecordBatchIn, "a PutRecordBatch request object", |map| {
    let mut name: Option<Option<Text<'a>>> = None;
    let mut records: Option<Option<Vec<RecordIn<'a>>>> = None;
    read_members(map, |member, map| match member {
        Member::DeliveryStreamName => set_once(&mut name, "DeliveryStreamName", map),
        Member::Records => set_once(&mut records, "Records", map),
        _ => Ok(false),
    })?;
    Ok(PutRecordBatchIn {
        name: text(name.flatten()),
        records: records.flatten(),
    })
});

object_visitor!(PutRecordIn, "a PutRecord request object", |map| {
    let mut name: Option<Option<Text<'a>>> = None;
    let mut record: Option<Option<RecordIn<'a>>> = None;
    read_members(map, |member, map| match member {
        Member::DeliveryStreamName => set_once(&mut name, "DeliveryStreamName", map),
        Member::Record => set_once(&mut record, "Record", map),
        _ => Ok(false),
    })?;
    Ok(PutRecordIn {
        name: text(name.flatten()),
        record: record.flatten(),
    })
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_read_and_unknown_members_skipped() {
        let body = r#"{"DeliveryStreamName":"s","Extra":[1,{"a":2}],"Records":[{"Data":"eA=="},{"Data":null}]}"#;
        let batch: PutRecordBatchIn<'_> = serde_json::from_str(body).unwrap();
        assert_eq!(batch.name.as_deref(), Some("s"));
        let records = batch.records.unwrap();
        assert_eq!(records.len(), 2);
        assert!(matches!(records[0].data, Some(Cow::Borrowed("eA=="))));
        assert!(records[1].data.is_none());
    }

    #[test]
    fn arrays_in_place_of_objects_are_refused() {
        for body in [r#"["s",[{"Data":""}]]"#, r#"{"Records":[[""]]}"#] {
            assert!(
                serde_json::from_str::<PutRecordBatchIn<'_>>(body).is_err(),
                "{body}"
            );
        }
        assert!(serde_json::from_str::<PutRecordIn<'_>>(r#"["s",["eA=="]]"#).is_err());
    }

    #[test]
    fn a_repeated_member_is_refused() {
        let body = r#"{"DeliveryStreamName":"a","DeliveryStreamName":"b","Record":{"Data":""}}"#;
        let err = serde_json::from_str::<PutRecordIn<'_>>(body).err().unwrap();
        assert!(err.to_string().contains("duplicate field"), "{err}");
    }

    #[test]
    fn escaped_strings_are_owned() {
        let body = r#"{"DeliveryStreamName":"a\u0062","Record":{"Data":"eA=="}}"#;
        let put: PutRecordIn<'_> = serde_json::from_str(body).unwrap();
        assert_eq!(put.name.as_deref(), Some("ab"));
    }
}
