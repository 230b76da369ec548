//! Firehose object keys (docs/compatibility.md, "Objects").
//!
//! Key = `<evaluated prefix><stream>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><extension>`.
//! Every time in a key — the prefix's `!{timestamp:...}` expressions and the suffix — is the same
//! instant, the arrival of the oldest record in the object, in UTC.

use std::fmt::Write;

use chrono::{DateTime, Datelike, Timelike, Utc};
use crds::{PrefixPart, PrefixTemplate, TimePart};
use thiserror::Error;
use uuid::Uuid;

/// Firehose's limit on an *evaluated* `Prefix` / `ErrorOutputPrefix`.
///
/// Firehose requires an evaluated prefix to be at most 512 characters. The namer
/// deliberately does not truncate — a cut key would silently differ from the configured layout —
/// and returns the key as evaluated; a caller that wants to enforce the limit compares the
/// prefix length against this value.
pub fn max_prefix_len() -> usize {
    512
}

/// Why a stream's prefixes cannot name objects.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum NamingError {
    #[error("prefix: {0}")]
    Prefix(#[source] crds::prefix::PrefixError),
    #[error("errorOutputPrefix: {0}")]
    ErrorOutputPrefix(#[source] crds::prefix::PrefixError),
    #[error("prefix: !{{firehose:error-output-type}} is only allowed in errorOutputPrefix")]
    ErrorOutputTypeInPrefix,
}

/// Names the objects of one stream version.
#[derive(Clone, Debug)]
pub struct ObjectNamer {
    stream_name: String,
    version_id: String,
    extension: String,
    /// Error-output objects hold JSON lines whatever the delivered objects hold (Parquet, a
    /// custom extension): only the compression's extension, if any.
    error_extension: String,
    /// The object prefix, with the default time appended when it had no timestamp.
    prefix: PrefixTemplate,
    /// The error prefix, ready to evaluate with an error-output type.
    error_prefix: PrefixTemplate,
}

impl ObjectNamer {
    /// Builds a namer. `extension` is already resolved (custom `fileExtension` or the format's
    /// default), e.g. `".gz"` or `""`. An empty `prefix` or `error_output_prefix` counts as unset.
    pub fn new(
        stream_name: &str,
        version_id: &str,
        prefix: Option<&str>,
        error_output_prefix: Option<&str>,
        extension: &str,
    ) -> Result<Self, NamingError> {
        let prefix_text = prefix.filter(|p| !p.is_empty());
        let parsed = match prefix_text {
            Some(text) => PrefixTemplate::parse(text).map_err(NamingError::Prefix)?,
            None => PrefixTemplate::default(),
        };
        if parsed.has_error_output_type() {
            return Err(NamingError::ErrorOutputTypeInPrefix);
        }

        let error_prefix = match error_output_prefix.filter(|p| !p.is_empty()) {
            Some(text) => PrefixTemplate::parse(text)
                .map_err(NamingError::ErrorOutputPrefix)?
                .with_default_time(),
            None => {
                // Firehose: `<prefix><error-output-type>/yyyy/MM/dd/HH/`, where the prefix is
                // used only when it is plain text (with expressions, errorOutputPrefix is
                // required, so validation keeps that case from reaching here).
                let mut parts = Vec::new();
                if let Some(text) = prefix_text
                    && !parsed.has_expressions()
                {
                    parts.push(PrefixPart::Literal(text.to_owned()));
                }
                parts.push(PrefixPart::ErrorOutputType);
                parts.push(PrefixPart::Literal("/".into()));
                parts.push(PrefixPart::Timestamp(PrefixTemplate::default_time()));
                PrefixTemplate { parts }
            }
        };

        Ok(Self {
            stream_name: stream_name.to_owned(),
            version_id: version_id.to_owned(),
            extension: extension.to_owned(),
            error_extension: extension.to_owned(),
            prefix: parsed.with_default_time(),
            error_prefix,
        })
    }

    /// Names error-output objects with `extension` (e.g. `".gz"`, or `""` uncompressed) instead
    /// of the delivered objects' extension.
    pub fn with_error_extension(mut self, extension: &str) -> Self {
        self.error_extension = extension.to_owned();
        self
    }

    /// The key of a delivered object whose oldest record arrived at `oldest_arrival`.
    pub fn object_key(&self, oldest_arrival: DateTime<Utc>) -> String {
        self.partition_key(oldest_arrival, None)
    }

    /// The key of an object of one dynamic partition: `partition` maps
    /// `partitionKeyFromQuery:<key>` / `partitionKeyFromLambda:<key>` to values.
    pub fn partition_key(
        &self,
        oldest_arrival: DateTime<Utc>,
        partition: Option<&Partition>,
    ) -> String {
        let mut key = String::with_capacity(128);
        render_prefix(
            &mut key,
            &self.prefix,
            None,
            oldest_arrival,
            &mut random_string,
            partition,
        );
        self.push_suffix(&mut key, oldest_arrival, Uuid::new_v4(), &self.extension);
        key
    }

    /// The key of an error-output object (failed records) of type `error_output_type`, e.g.
    /// `processing-failed`: the delivered objects' suffix, with the error-output extension.
    pub fn error_key(&self, error_output_type: &str, oldest_arrival: DateTime<Utc>) -> String {
        self.key_with(
            &self.error_prefix,
            Some(error_output_type),
            oldest_arrival,
            &mut random_string,
            Uuid::new_v4(),
        )
    }

    /// Renders a key with injected randomness (tests pin it).
    fn key_with(
        &self,
        prefix: &PrefixTemplate,
        error_output_type: Option<&str>,
        at: DateTime<Utc>,
        random: &mut dyn FnMut() -> String,
        uuid: Uuid,
    ) -> String {
        let mut key = String::with_capacity(128);
        render_prefix(&mut key, prefix, error_output_type, at, random, None);
        let extension = match error_output_type {
            Some(_) => &self.error_extension,
            None => &self.extension,
        };
        self.push_suffix(&mut key, at, uuid, extension);
        key
    }

    fn push_suffix(&self, key: &mut String, at: DateTime<Utc>, uuid: Uuid, extension: &str) {
        key.push_str(&self.stream_name);
        key.push('-');
        key.push_str(&self.version_id);
        // Writing to a String cannot fail.
        let _ = write!(
            key,
            "-{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-{}",
            at.year(),
            at.month(),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            uuid.hyphenated()
        );
        key.push_str(extension);
    }
}

/// `!{firehose:random-string}`: 11 characters shaped like the start of a lowercase hex UUID,
/// e.g. `046b6c7f-0b`.
fn random_string() -> String {
    let high: u32 = rand::random();
    let low: u8 = rand::random();
    format!("{high:08x}-{low:02x}")
}

/// Appends the evaluation of `template` to `out`.
/// A dynamic partition's key values, by expression (`partitionKeyFromQuery:customer_id`).
pub type Partition = std::collections::BTreeMap<String, String>;

fn render_prefix(
    out: &mut String,
    template: &PrefixTemplate,
    error_output_type: Option<&str>,
    at: DateTime<Utc>,
    random: &mut dyn FnMut() -> String,
    partition: Option<&Partition>,
) {
    for part in &template.parts {
        match part {
            PrefixPart::Literal(text) => out.push_str(text),
            PrefixPart::Timestamp(pattern) => render_time(out, pattern, at),
            PrefixPart::RandomString => out.push_str(&random()),
            // Only error prefixes carry it; `new` refuses it in the object prefix.
            PrefixPart::ErrorOutputType => out.push_str(error_output_type.unwrap_or_default()),
            PrefixPart::PartitionKey(k) => {
                out.push_str(partition.and_then(|p| p.get(k)).map_or("", String::as_str))
            }
        }
    }
}

/// Appends a `!{timestamp:...}` pattern evaluated at `at` (UTC).
fn render_time(out: &mut String, pattern: &[TimePart], at: DateTime<Utc>) {
    for part in pattern {
        // Writing to a String cannot fail.
        let _ = match part {
            TimePart::Literal(text) => {
                out.push_str(text);
                Ok(())
            }
            TimePart::Year4 => write!(out, "{:04}", at.year()),
            TimePart::Year2 => write!(out, "{:02}", at.year().rem_euclid(100)),
            TimePart::Month => write!(out, "{:02}", at.month()),
            TimePart::Day => write!(out, "{:02}", at.day()),
            TimePart::DayOfYear => write!(out, "{:03}", at.ordinal()),
            TimePart::Hour => write!(out, "{:02}", at.hour()),
            TimePart::Minute => write!(out, "{:02}", at.minute()),
            TimePart::Second => write!(out, "{:02}", at.second()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 7, 13, 14, 5, 9).unwrap()
    }

    const UUID: &str = "3c3d0a1e-5b2f-4c1d-9e8a-0123456789ab";

    fn fixed_uuid() -> Uuid {
        Uuid::parse_str(UUID).unwrap()
    }

    /// Renders with counted random strings `r0`, `r1`, ... and a fixed UUID.
    fn pinned(namer: &ObjectNamer, error_type: Option<&str>) -> String {
        let mut n = 0;
        let mut random = || {
            n += 1;
            format!("r{}", n - 1)
        };
        let prefix = match error_type {
            None => &namer.prefix,
            Some(_) => &namer.error_prefix,
        };
        namer.key_with(prefix, error_type, at(), &mut random, fixed_uuid())
    }

    fn namer(prefix: Option<&str>, error_prefix: Option<&str>, ext: &str) -> ObjectNamer {
        ObjectNamer::new("mystream", "1", prefix, error_prefix, ext).unwrap()
    }

    fn is_hex(s: &str) -> bool {
        s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    }

    fn is_digits(s: &str, len: usize) -> bool {
        s.len() == len && s.chars().all(|c| c.is_ascii_digit())
    }

    /// Checks `<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid v4><ext>` and returns the UUID.
    fn check_suffix(suffix: &str, stream: &str, version: &str, ext: &str) -> Uuid {
        let rest = suffix
            .strip_prefix(&format!("{stream}-{version}-"))
            .unwrap_or_else(|| panic!("{suffix}"));
        let rest = rest.strip_suffix(ext).unwrap_or_else(|| panic!("{suffix}"));
        let fields: Vec<&str> = rest.splitn(7, '-').collect();
        assert_eq!(fields.len(), 7, "{suffix}");
        assert!(is_digits(fields[0], 4), "{suffix}");
        for f in &fields[1..6] {
            assert!(is_digits(f, 2), "{suffix}");
        }
        let uuid = Uuid::parse_str(fields[6]).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(
            fields[6],
            uuid.hyphenated().to_string(),
            "lowercase hyphenated"
        );
        uuid
    }

    #[test]
    fn default_prefix_shape() {
        let key = namer(None, None, "").object_key(at());
        let (prefix, suffix) = key.split_at("2026/07/13/14/".len());
        assert_eq!(prefix, "2026/07/13/14/");
        check_suffix(suffix, "mystream", "1", "");
        assert!(
            suffix.starts_with("mystream-1-2026-07-13-14-05-09-"),
            "{key}"
        );
    }

    #[test]
    fn default_prefix_exact_key() {
        assert_eq!(
            pinned(&namer(None, None, ".gz"), None),
            format!("2026/07/13/14/mystream-1-2026-07-13-14-05-09-{UUID}.gz")
        );
    }

    #[test]
    fn empty_prefix_is_the_default() {
        assert_eq!(
            pinned(&namer(Some(""), None, ""), None),
            pinned(&namer(None, None, ""), None)
        );
    }

    #[test]
    fn plain_prefix_gets_default_time_by_concatenation() {
        assert_eq!(
            pinned(&namer(Some("legacy"), None, ""), None),
            format!("legacy2026/07/13/14/mystream-1-2026-07-13-14-05-09-{UUID}")
        );
        assert_eq!(
            pinned(&namer(Some("logs/"), None, ""), None),
            format!("logs/2026/07/13/14/mystream-1-2026-07-13-14-05-09-{UUID}")
        );
    }

    #[test]
    fn random_string_only_prefix_still_gets_default_time() {
        assert_eq!(
            pinned(&namer(Some("!{firehose:random-string}/"), None, ""), None),
            format!("r0/2026/07/13/14/mystream-1-2026-07-13-14-05-09-{UUID}")
        );
    }

    #[test]
    fn custom_prefix_with_timestamp_and_random_strings() {
        let n = namer(
            Some(
                "events/!{timestamp:yyyy}/!{timestamp:MM}/!{firehose:random-string}/!{firehose:random-string}/",
            ),
            Some("errors/!{firehose:error-output-type}/"),
            ".json",
        );
        assert_eq!(
            pinned(&n, None),
            format!("events/2026/07/r0/r1/mystream-1-2026-07-13-14-05-09-{UUID}.json")
        );
    }

    #[test]
    fn every_time_field() {
        let n = namer(
            Some("!{timestamp:yyyy yy MM dd DDD HH mm ss}/"),
            Some("e/!{firehose:error-output-type}/"),
            "",
        );
        assert!(
            pinned(&n, None).starts_with("2026 26 07 13 194 14 05 09/mystream-1-"),
            "{}",
            pinned(&n, None)
        );
    }

    #[test]
    fn day_of_year_and_two_digit_year_are_padded() {
        let n = namer(
            Some("!{timestamp:DDD-yy}/"),
            Some("!{firehose:error-output-type}"),
            "",
        );
        let early = Utc.with_ymd_and_hms(2005, 1, 2, 3, 4, 5).unwrap();
        let key = n.key_with(&n.prefix, None, early, &mut || unreachable!(), fixed_uuid());
        assert_eq!(key, format!("002-05/mystream-1-2005-01-02-03-04-05-{UUID}"));
    }

    #[test]
    fn quoted_literals() {
        let n = namer(
            Some("!{timestamp:'year='yyyy'/month='MM'/'}"),
            Some("!{firehose:error-output-type}/"),
            "",
        );
        assert_eq!(
            pinned(&n, None),
            format!("year=2026/month=07/mystream-1-2026-07-13-14-05-09-{UUID}")
        );
    }

    #[test]
    fn real_random_string_shape_and_freshness() {
        let n = namer(
            Some("!{firehose:random-string}|!{firehose:random-string}|!{timestamp:yyyy}/"),
            Some("e/!{firehose:error-output-type}/"),
            "",
        );
        let key = n.object_key(at());
        let pieces: Vec<&str> = key.splitn(3, '|').collect();
        assert_eq!(pieces.len(), 3, "{key}");
        for r in &pieces[..2] {
            assert_eq!(r.len(), 11, "{r}");
            assert_eq!(&r[8..9], "-", "{r}");
            assert!(is_hex(&r[..8]) && is_hex(&r[9..]), "{r}");
        }
        // 40 random bits each: equal values would mean the expression is not re-evaluated.
        assert_ne!(pieces[0], pieces[1]);
        assert!(pieces[2].starts_with("2026/mystream-1-"), "{key}");
    }

    #[test]
    fn every_key_has_a_fresh_uuid() {
        let n = namer(None, None, ".gz");
        let a = n.object_key(at());
        let b = n.object_key(at());
        assert_ne!(a, b);
        let ua = check_suffix(&a["2026/07/13/14/".len()..], "mystream", "1", ".gz");
        let ub = check_suffix(&b["2026/07/13/14/".len()..], "mystream", "1", ".gz");
        assert_ne!(ua, ub);
    }

    #[test]
    fn suffix_uses_stream_version_and_extension() {
        let n = ObjectNamer::new("orders-eu", "17", Some("o/"), None, ".snappy").unwrap();
        let key = n.object_key(at());
        let suffix = key.strip_prefix("o/2026/07/13/14/").unwrap();
        check_suffix(suffix, "orders-eu", "17", ".snappy");
        assert!(suffix.starts_with("orders-eu-17-2026-07-13-14-05-09-"));
        assert!(key.ends_with(".snappy"));
    }

    #[test]
    fn custom_extension_is_used_verbatim() {
        let key = namer(None, None, ".json.gz").object_key(at());
        assert!(key.ends_with(".json.gz"), "{key}");
        let key = namer(None, None, "").object_key(at());
        let last = key.rsplit('-').next().unwrap();
        assert_eq!(last.len(), 12, "no extension after the uuid: {key}");
    }

    #[test]
    fn suffix_time_is_the_given_instant_not_now() {
        let old = Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 58).unwrap();
        let key = namer(None, None, "").object_key(old);
        assert!(
            key.starts_with("1999/12/31/23/mystream-1-1999-12-31-23-59-58-"),
            "{key}"
        );
    }

    #[test]
    fn error_key_with_error_output_prefix() {
        let n = namer(
            Some("data/!{timestamp:yyyy}/"),
            Some(
                "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM}/!{firehose:error-output-type}/",
            ),
            ".gz",
        );
        assert_eq!(
            pinned(&n, Some("processing-failed")),
            format!(
                "errors/processing-failed/2026/07/processing-failed/mystream-1-2026-07-13-14-05-09-{UUID}.gz"
            )
        );
    }

    #[test]
    fn error_prefix_without_timestamp_gets_default_time() {
        let n = namer(None, Some("err-!{firehose:error-output-type}"), "");
        assert_eq!(
            pinned(&n, Some("splunk-failed")),
            format!("err-splunk-failed2026/07/13/14/mystream-1-2026-07-13-14-05-09-{UUID}")
        );
        let n = namer(None, Some("errors/"), "");
        assert_eq!(
            pinned(&n, Some("processing-failed")),
            format!("errors/2026/07/13/14/mystream-1-2026-07-13-14-05-09-{UUID}")
        );
    }

    #[test]
    fn error_prefix_random_string() {
        let n = namer(
            None,
            Some("!{firehose:error-output-type}/!{firehose:random-string}/"),
            "",
        );
        assert_eq!(
            pinned(&n, Some("processing-failed")),
            format!("processing-failed/r0/2026/07/13/14/mystream-1-2026-07-13-14-05-09-{UUID}")
        );
    }

    #[test]
    fn error_key_without_error_output_prefix() {
        assert_eq!(
            pinned(&namer(None, None, ".gz"), Some("processing-failed")),
            format!("processing-failed/2026/07/13/14/mystream-1-2026-07-13-14-05-09-{UUID}.gz")
        );
        assert_eq!(
            pinned(&namer(Some("logs/"), None, ""), Some("processing-failed")),
            format!("logs/processing-failed/2026/07/13/14/mystream-1-2026-07-13-14-05-09-{UUID}")
        );
        // Plain concatenation, as for the object prefix.
        assert_eq!(
            pinned(
                &namer(Some("legacy"), None, ""),
                Some("http-endpoint-failed")
            ),
            format!(
                "legacyhttp-endpoint-failed/2026/07/13/14/mystream-1-2026-07-13-14-05-09-{UUID}"
            )
        );
        // Empty errorOutputPrefix counts as unset.
        assert_eq!(
            pinned(
                &namer(Some("logs/"), Some(""), ""),
                Some("processing-failed")
            ),
            format!("logs/processing-failed/2026/07/13/14/mystream-1-2026-07-13-14-05-09-{UUID}")
        );
    }

    #[test]
    fn error_key_fallback_ignores_a_prefix_with_expressions() {
        // Validation rejects this configuration; the namer still produces a sane key.
        let n = namer(Some("x/!{timestamp:yyyy}/"), None, "");
        assert_eq!(
            pinned(&n, Some("processing-failed")),
            format!("processing-failed/2026/07/13/14/mystream-1-2026-07-13-14-05-09-{UUID}")
        );
    }

    #[test]
    fn real_error_key_shape() {
        let n = namer(Some("logs/"), None, ".gz");
        let key = n.error_key("processing-failed", at());
        let suffix = key
            .strip_prefix("logs/processing-failed/2026/07/13/14/")
            .unwrap_or_else(|| panic!("{key}"));
        check_suffix(suffix, "mystream", "1", ".gz");
    }

    #[test]
    fn error_objects_are_named_for_json_lines_not_for_the_delivered_format() {
        let n = namer(Some("t/"), None, ".parquet").with_error_extension("");
        assert!(n.object_key(at()).ends_with(".parquet"));
        let key = n.error_key("format-conversion-failed", at());
        let suffix = key
            .strip_prefix("t/format-conversion-failed/2026/07/13/14/")
            .unwrap_or_else(|| panic!("{key}"));
        check_suffix(suffix, "mystream", "1", "");
        let gz = namer(None, None, ".json.gz").with_error_extension(".gz");
        assert!(gz.error_key("processing-failed", at()).ends_with(".gz"));
        assert!(
            !gz.error_key("processing-failed", at())
                .ends_with(".json.gz")
        );
    }

    #[test]
    fn bad_prefixes_are_refused() {
        assert!(matches!(
            ObjectNamer::new("s", "1", Some("a/!{foo:bar}"), None, ""),
            Err(NamingError::Prefix(_))
        ));
        assert!(matches!(
            ObjectNamer::new("s", "1", None, Some("e/!{timestamp:yyyy"), ""),
            Err(NamingError::ErrorOutputPrefix(_))
        ));
        assert_eq!(
            ObjectNamer::new("s", "1", Some("!{firehose:error-output-type}/"), None, "")
                .unwrap_err(),
            NamingError::ErrorOutputTypeInPrefix
        );
    }

    #[test]
    fn long_prefixes_are_returned_whole() {
        let long = "p/".repeat(300);
        let key = namer(Some(&long), None, "").object_key(at());
        assert!(key.starts_with(&format!("{long}2026/07/13/14/")));
        assert!(long.len() + "2026/07/13/14/".len() > max_prefix_len());
        assert_eq!(max_prefix_len(), 512);
    }
}
