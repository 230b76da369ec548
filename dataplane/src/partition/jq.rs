//! `MetadataExtraction` queries with jaq (JQ 1.6 semantics): the query runs on each record and
//! must produce an object whose values become partition keys.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::{Val, read};

use std::sync::Arc;

use crate::record::{Failure, Partition};

type Filter = jaq_core::compile::Filter<jaq_core::Native<data::JustLut<Val>>>;

/// A compiled query. jaq's values are not `Send`, so a query is compiled once to check it and
/// again on the thread that runs it.
pub struct Query {
    source: String,
    /// The common shape `{key: .a, other: .b.c}`: evaluated without jaq (same results).
    paths: Option<Vec<(String, Vec<String>)>>,
    /// The distinct first segments of `paths`, picked from a record in one pass.
    first_segments: Vec<String>,
    /// The keys of `paths`, in order.
    path_keys: Arc<[String]>,
}

/// The keys a query extracted from one record.
#[derive(Debug, Clone)]
pub enum Keys {
    /// The fast path: one value per key of the query, in order (`None`: null or structured),
    /// without building a map per record.
    Ordered(Arc<[String]>, Vec<Option<String>>),
    Map(Partition),
}

impl Keys {
    pub fn get(&self, key: &str) -> Option<&String> {
        match self {
            Keys::Ordered(names, values) => {
                let i = names.iter().position(|n| n == key)?;
                values.get(i)?.as_ref()
            }
            Keys::Map(m) => m.get(key),
        }
    }

    /// Every key with a value.
    #[cfg(test)]
    pub fn to_map(&self) -> Partition {
        match self {
            Keys::Ordered(names, values) => names
                .iter()
                .zip(values)
                .filter_map(|(n, v)| Some((n.clone(), v.clone()?)))
                .collect(),
            Keys::Map(m) => m.clone(),
        }
    }
}

/// The top-level fields `wanted` of a JSON object (null when absent), read in one pass that
/// skips every other field without building it. `None` when the text is not an object.
fn pick(text: &[u8], wanted: &[String]) -> Option<Vec<serde_json::Value>> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(text);
    let picked = Pick(wanted).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(picked)
}

struct Pick<'w>(&'w [String]);

impl<'de> serde::de::DeserializeSeed<'de> for Pick<'_> {
    type Value = Vec<serde_json::Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Pick<'_> {
    type Value = Vec<serde_json::Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(vec![serde_json::Value::Null; self.0.len()])
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = vec![serde_json::Value::Null; self.0.len()];
        while let Some(index) = map.next_key_seed(KeyIndex(self.0))? {
            match index {
                Some(i) => out[i] = map.next_value()?,
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// Where a key sits among the wanted fields, without allocating it.
struct KeyIndex<'w>(&'w [String]);

impl<'de> serde::de::DeserializeSeed<'de> for KeyIndex<'_> {
    type Value = Option<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for KeyIndex<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|w| w == v))
    }
}

/// jq's `.field` on one value: null on null or a missing field, an error on a non-object.
fn lookup<'v>(v: &'v serde_json::Value, segment: &str) -> Result<&'v serde_json::Value, String> {
    match v {
        serde_json::Value::Object(m) => Ok(m.get(segment).unwrap_or(&serde_json::Value::Null)),
        serde_json::Value::Null => Ok(&serde_json::Value::Null),
        other => Err(format!("cannot index {} with \"{segment}\"", kind(other))),
    }
}

/// `{key: .path, ...}` with identifier keys and `.a.b` paths, or `None` for anything else.
fn simple_paths(source: &str) -> Option<Vec<(String, Vec<String>)>> {
    let body = source.trim().strip_prefix('{')?.strip_suffix('}')?;
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    let mut out = Vec::new();
    for entry in body.split(',') {
        let (key, path) = entry.split_once(':')?;
        let (key, path) = (key.trim(), path.trim());
        let path = path.strip_prefix('.')?;
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        if !ident(key) || !segments.iter().all(|s| ident(s)) {
            return None;
        }
        out.push((key.to_owned(), segments));
    }
    (!out.is_empty()).then_some(out)
}

fn compile(source: &str) -> Result<Filter, String> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(
            &arena,
            File {
                code: source,
                path: (),
            },
        )
        .map_err(|e| format!("the query does not parse: {e:?}"))?;
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|e| format!("the query does not compile: {e:?}"))
}

thread_local! {
    /// The last query compiled on this thread, with its source.
    static COMPILED: std::cell::RefCell<Option<(String, Filter)>> =
        const { std::cell::RefCell::new(None) };
}

impl Query {
    pub fn compile(source: &str) -> anyhow::Result<Self> {
        compile(source).map_err(|e| anyhow::anyhow!("MetadataExtraction query `{source}`: {e}"))?;
        let paths = simple_paths(source);
        let mut first_segments: Vec<String> = Vec::new();
        for (_, path) in paths.iter().flatten() {
            if !first_segments.contains(&path[0]) {
                first_segments.push(path[0].clone());
            }
        }
        let path_keys = paths.iter().flatten().map(|(key, _)| key.clone()).collect();
        Ok(Self {
            source: source.to_owned(),
            paths,
            first_segments,
            path_keys,
        })
    }

    /// The keys the query extracts from one record.
    pub fn run(&self, record: &[u8]) -> Result<Keys, Failure> {
        let invalid =
            |why: String| Failure::new("DynamicPartitioning.MetadataExtractionFailed", why);
        let text = record.trim_ascii();
        if let Some(paths) = &self.paths {
            return self.run_paths(paths, text);
        }
        let input = read::parse_single(text)
            .map_err(|e| invalid(format!("the record is not JSON: {e}")))?;
        COMPILED.with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.as_ref().is_none_or(|(s, _)| s != &self.source) {
                let filter = compile(&self.source).map_err(invalid)?;
                *cell = Some((self.source.clone(), filter));
            }
            let Some((_, filter)) = cell.as_ref() else {
                return Err(invalid("the query is not compiled".into()));
            };
            let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
            let out = filter
                .id
                .run((ctx, input))
                .map(unwrap_valr)
                .next()
                .ok_or_else(|| invalid("the query produced nothing".into()))?
                .map_err(|e| invalid(format!("the query failed: {e}")))?;
            // Keys straight from jaq's value: no second JSON round trip.
            let Val::Obj(map) = &out else {
                return Err(invalid(format!("the query produced {out}, not an object")));
            };
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let mut keys = Partition::new();
            for (k, v) in map.iter() {
                let k = match k {
                    Val::TStr(b) | Val::BStr(b) => text(b),
                    other => other.to_string(),
                };
                let v = match v {
                    Val::TStr(b) | Val::BStr(b) => text(b),
                    Val::Num(n) => n.to_string(),
                    Val::Bool(b) => b.to_string(),
                    // A null or structured value is not a key: the record fails.
                    _ => continue,
                };
                keys.insert(k, v);
            }
            Ok(Keys::Map(keys))
        })
    }
}

impl Query {
    /// The fast path: `.a.b` lookups with jq's semantics (a missing field is null; indexing a
    /// non-object fails).
    fn run_paths(&self, paths: &[(String, Vec<String>)], text: &[u8]) -> Result<Keys, Failure> {
        let invalid =
            |why: String| Failure::new("DynamicPartitioning.MetadataExtractionFailed", why);
        let firsts = self.first_segments.as_slice();
        let picked = match pick(text, firsts) {
            Some(picked) => picked,
            None => {
                // Not an object (or not JSON): the general lookup gives jq's answer or error.
                let value: serde_json::Value = serde_json::from_slice(text)
                    .map_err(|e| invalid(format!("the record is not JSON: {e}")))?;
                firsts
                    .iter()
                    .map(|f| {
                        lookup(&value, f)
                            .cloned()
                            .map_err(|e| invalid(format!("the query failed: {e}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        let mut values = Vec::with_capacity(paths.len());
        for (_, path) in paths {
            let first = firsts.iter().position(|f| *f == path[0]).unwrap_or(0);
            let mut v = &picked[first];
            for segment in &path[1..] {
                v = lookup(v, segment).map_err(|e| invalid(format!("the query failed: {e}")))?;
            }
            values.push(match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => None,
            });
        }
        Ok(Keys::Ordered(self.path_keys.clone(), values))
    }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Array(_) => "array",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Object(_) => "object",
        serde_json::Value::Null => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_keys_like_jq() {
        let q =
            Query::compile("{customer_id: .customer_id, year: (.ts | tostring | .[0:4])}").unwrap();
        let keys = q
            .run(br#"{"customer_id": 42, "ts": "2024-01-02"}"#)
            .unwrap();
        assert_eq!(keys.get("customer_id").map(String::as_str), Some("42"));
        assert_eq!(keys.get("year").map(String::as_str), Some("2024"));
        let keys = q.run(b"{\"ts\":\"2019\"}\n").unwrap();
        assert!(keys.get("customer_id").is_none(), "null is not a key");
        assert!(q.run(b"not json").is_err());
        assert!(Query::compile("{a: .b").is_err());
    }

    #[test]
    fn the_fast_path_agrees_with_jaq() {
        let fast = Query::compile("{customer: .customer.id, region: .region}").unwrap();
        assert!(fast.paths.is_some());
        let slow = Query::compile("{customer: (.customer.id), region: (.region)}").unwrap();
        assert!(slow.paths.is_none());
        for record in [
            &br#"{"customer":{"id":7},"region":"eu"}"#[..],
            br#"{"customer":{"id":"x"}}"#,
            br#"{"customer":null,"region":true}"#,
            br#"{"customer":[1],"region":1.5}"#,
            br#"{"region":"a","region":"b","customer":{"id":1,"id":2}}"#,
            br#"{"reg\u0069on":"escaped","x":{"deep":[{"a":1}]},"customer":{"id":"\u00e9"}}"#,
            br#"  {"region": 12, "customer": {"id": false}}  "#,
            br#"{"customer":"str"}"#,
            br#"[1,2]"#,
            b"null",
            b"42",
            br#"{"region":"a"} trailing"#,
            br#"{"region":"a""#,
            b"oops",
        ] {
            let a = fast.run(record);
            let b = slow.run(record);
            assert_eq!(a.is_ok(), b.is_ok(), "{}", String::from_utf8_lossy(record));
            if let (Ok(a), Ok(b)) = (a, b) {
                assert_eq!(
                    a.to_map(),
                    b.to_map(),
                    "{}",
                    String::from_utf8_lossy(record)
                );
            }
        }
    }
}
