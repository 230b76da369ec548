use super::*;
use crate::destination::object_identity::Lane;
use crate::record::Batch;
use chrono::TimeZone;

/// The identity of an object holding the one record numbered `seq`.
fn id(seq: u64) -> ObjectIdentity {
    ObjectIdentity::of_batch(
        Uuid::nil(),
        Lane::Delivery,
        &Batch::from_records(seq, 0, [&b"x"[..]]),
    )
}

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
    let key = namer(None, None, "").object_key(at(), &id(0));
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
fn real_random_string_shape_and_derivation() {
    let n = namer(
        Some("!{firehose:random-string}|!{firehose:random-string}|!{timestamp:yyyy}/"),
        Some("e/!{firehose:error-output-type}/"),
        "",
    );
    let key = n.object_key(at(), &id(0));
    let pieces: Vec<&str> = key.splitn(3, '|').collect();
    assert_eq!(pieces.len(), 3, "{key}");
    for r in &pieces[..2] {
        assert_eq!(r.len(), 11, "{r}");
        assert_eq!(&r[8..9], "-", "{r}");
        assert!(is_hex(&r[..8]) && is_hex(&r[9..]), "{r}");
    }
    // 40 derived bits each: equal values would mean the expression is not re-evaluated.
    assert_ne!(pieces[0], pieces[1]);
    assert!(pieces[2].starts_with("2026/mystream-1-"), "{key}");
    assert_eq!(
        key,
        n.object_key(at(), &id(0)),
        "the same object, the same name"
    );
    assert_ne!(key[..11], n.object_key(at(), &id(1))[..11]);
}

#[test]
fn each_object_has_its_own_uuid_and_keeps_it() {
    let n = namer(None, None, ".gz");
    let a = n.object_key(at(), &id(0));
    let b = n.object_key(at(), &id(1));
    assert_ne!(a, b);
    assert_eq!(a, n.object_key(at(), &id(0)));
    let ua = check_suffix(&a["2026/07/13/14/".len()..], "mystream", "1", ".gz");
    let ub = check_suffix(&b["2026/07/13/14/".len()..], "mystream", "1", ".gz");
    assert_ne!(ua, ub);
}

#[test]
fn suffix_uses_stream_version_and_extension() {
    let n = ObjectNamer::new("orders-eu", "17", Some("o/"), None, ".snappy").unwrap();
    let key = n.object_key(at(), &id(0));
    let suffix = key.strip_prefix("o/2026/07/13/14/").unwrap();
    check_suffix(suffix, "orders-eu", "17", ".snappy");
    assert!(suffix.starts_with("orders-eu-17-2026-07-13-14-05-09-"));
    assert!(key.ends_with(".snappy"));
}

#[test]
fn custom_extension_is_used_verbatim() {
    let key = namer(None, None, ".json.gz").object_key(at(), &id(0));
    assert!(key.ends_with(".json.gz"), "{key}");
    let key = namer(None, None, "").object_key(at(), &id(0));
    let last = key.rsplit('-').next().unwrap();
    assert_eq!(last.len(), 12, "no extension after the uuid: {key}");
}

#[test]
fn suffix_time_is_the_given_instant_not_now() {
    let old = Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 58).unwrap();
    let key = namer(None, None, "").object_key(old, &id(0));
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
        format!("legacyhttp-endpoint-failed/2026/07/13/14/mystream-1-2026-07-13-14-05-09-{UUID}")
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
    let key = n.error_key("processing-failed", at(), &id(0));
    let suffix = key
        .strip_prefix("logs/processing-failed/2026/07/13/14/")
        .unwrap_or_else(|| panic!("{key}"));
    check_suffix(suffix, "mystream", "1", ".gz");
}

#[test]
fn error_objects_are_named_for_json_lines_not_for_the_delivered_format() {
    let n = namer(Some("t/"), None, ".parquet").with_error_extension("");
    assert!(n.object_key(at(), &id(0)).ends_with(".parquet"));
    let key = n.error_key("format-conversion-failed", at(), &id(0));
    let suffix = key
        .strip_prefix("t/format-conversion-failed/2026/07/13/14/")
        .unwrap_or_else(|| panic!("{key}"));
    check_suffix(suffix, "mystream", "1", "");
    let gz = namer(None, None, ".json.gz").with_error_extension(".gz");
    assert!(
        gz.error_key("processing-failed", at(), &id(0))
            .ends_with(".gz")
    );
    assert!(
        !gz.error_key("processing-failed", at(), &id(0))
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
        ObjectNamer::new("s", "1", Some("!{firehose:error-output-type}/"), None, "").unwrap_err(),
        NamingError::ErrorOutputTypeInPrefix
    );
}

#[test]
fn long_prefixes_are_returned_whole() {
    let long = "p/".repeat(300);
    let key = namer(Some(&long), None, "").object_key(at(), &id(0));
    assert!(key.starts_with(&format!("{long}2026/07/13/14/")));
    assert!(long.len() + "2026/07/13/14/".len() > max_prefix_len());
    assert_eq!(max_prefix_len(), 512);
}
