//! AWS Signature Version 4 verification: rebuild the canonical request from what arrived,
//! re-sign it with the stored secret (with `aws-sigv4`'s key derivation), and compare.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use http::HeaderMap;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::signing_keys::SigningKeys;

/// Requests signed further than this from the server's clock are refused.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Access key id → secret access key.
#[derive(Clone, Default)]
pub struct Credentials {
    keys: HashMap<String, String>,
    signing_keys: SigningKeys,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("Credentials")
            .field("access_key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            keys: pairs.into_iter().collect(),
            signing_keys: SigningKeys::default(),
        }
    }

    /// Reads a mounted Secret: one file per key, named by the access key id, holding the secret.
    pub fn from_dir(dir: &Path) -> std::io::Result<Self> {
        let keys = crate::support::secrets::read_all(dir)?;
        Ok(Self {
            keys: keys.into_iter().collect(),
            signing_keys: SigningKeys::default(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The parts of a request a signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

/// Verifies the request's SigV4 signature against `credentials` at time `now`.
pub fn verify(
    credentials: &Credentials,
    request: &SignedRequest<'_>,
    now: SystemTime,
) -> Result<(), ApiError> {
    let header = match request.headers.get(http::header::AUTHORIZATION) {
        Some(h) => h
            .to_str()
            .map_err(|_| ApiError::incomplete_signature("Authorization header is not ASCII"))?,
        None => return Err(ApiError::missing_token()),
    };
    let auth = parse_authorization(header)?;
    let amz_date = request
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::incomplete_signature(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            )
        })?;
    let signed_at = parse_amz_date(amz_date).ok_or_else(|| {
        ApiError::incomplete_signature(format!(
            "Date must be in ISO-8601 'basic format'. Got '{amz_date}'."
        ))
    })?;
    tracing::debug!(
        amz_date,
        access_key = auth.access_key,
        "verifying SigV4 signature"
    );
    check_skew(amz_date, signed_at, now)?;
    if !auth.signed_headers.contains(&"host") {
        return Err(ApiError::incomplete_signature(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    let Some(secret) = credentials.keys.get(auth.access_key) else {
        return Err(ApiError::unrecognized_client());
    };
    let canonical = canonical_request(request, &auth.signed_headers)?;
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex_lower(&Sha256::digest(canonical.as_bytes()))
    );
    let scope_time = parse_scope_date(auth.date)
        .ok_or_else(|| ApiError::incomplete_signature("Credential date is not YYYYMMDD"))?;
    let key = credentials.signing_keys.get(
        secret,
        auth.access_key,
        (auth.date, scope_time),
        auth.region,
        auth.service,
    );
    let expected = aws_sigv4::sign::v4::calculate_signature(key, string_to_sign.as_bytes());
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::invalid_signature(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ))
    }
}

/// The access key id a request's Authorization header names, if it has a well-formed one: who
/// signed it, once [`verify`] has accepted the signature.
pub fn access_key_id(headers: &HeaderMap) -> Option<String> {
    let header = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    parse_authorization(header)
        .ok()
        .map(|auth| auth.access_key.to_owned())
}

fn parse_authorization(header: &str) -> Result<Authorization<'_>, ApiError> {
    let rest = header
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| ApiError::incomplete_signature("Unsupported AWS 'algorithm'"))?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(ApiError::incomplete_signature(format!(
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization={header}"
        )));
    };
    let mut scope = credential.split('/');
    let (Some(access_key), Some(date), Some(region), Some(service), Some("aws4_request"), None) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(ApiError::incomplete_signature(format!(
            "Credential should be scoped to a valid region and service. Credential={credential}"
        )));
    };
    Ok(Authorization {
        access_key,
        date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

/// `YYYYMMDDTHHMMSSZ`, read by hand: a format string parsed for every request was a tenth of
/// a small request's verification.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let time =
        NaiveTime::from_hms_opt(digits(&b[9..11])?, digits(&b[11..13])?, digits(&b[13..15])?)?;
    Some(
        Utc.from_utc_datetime(&parse_day(&b[..8])?.and_time(time))
            .into(),
    )
}

/// `YYYYMMDD`, the credential scope's date, at midnight UTC.
fn parse_scope_date(text: &str) -> Option<SystemTime> {
    let day = parse_day(text.as_bytes())?;
    Some(Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN)).into())
}

fn parse_day(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 8 {
        return None;
    }
    NaiveDate::from_ymd_opt(
        i32::try_from(digits(&b[..4])?).ok()?,
        digits(&b[4..6])?,
        digits(&b[6..8])?,
    )
}

/// A run of ASCII digits as a number (no sign, no spaces).
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// Lowercase hex, as the canonical request and the string to sign spell digests.
fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn format_amz(time: SystemTime) -> String {
    DateTime::<Utc>::from(time)
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

fn check_skew(amz_date: &str, signed_at: SystemTime, now: SystemTime) -> Result<(), ApiError> {
    if signed_at + MAX_SKEW < now {
        return Err(ApiError::invalid_signature(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            format_amz(now - MAX_SKEW),
            format_amz(now)
        )));
    }
    if signed_at > now + MAX_SKEW {
        return Err(ApiError::invalid_signature(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            format_amz(now + MAX_SKEW),
            format_amz(now)
        )));
    }
    Ok(())
}

fn canonical_request(request: &SignedRequest<'_>, signed: &[&str]) -> Result<String, ApiError> {
    let mut out = String::with_capacity(512);
    out.push_str(request.method);
    out.push('\n');
    out.push_str(&canonical_path(request.path));
    out.push('\n');
    out.push_str(&canonical_query(request.query));
    out.push('\n');
    for name in signed {
        let values: Vec<String> = request
            .headers
            .get_all(*name)
            .iter()
            .map(|v| collapse_spaces(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        if values.is_empty() {
            return Err(ApiError::invalid_signature(format!(
                "The request signature we calculated does not match the signature you provided. Signed header '{name}' is missing."
            )));
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed.join(";"));
    out.push('\n');
    let body_hash = hex_lower(&Sha256::digest(request.body));
    match request
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some("UNSIGNED-PAYLOAD") => out.push_str("UNSIGNED-PAYLOAD"),
        Some(claimed) if claimed != body_hash => {
            return Err(ApiError::invalid_signature(
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ));
        }
        _ => out.push_str(&body_hash),
    }
    Ok(out)
}

fn collapse_spaces(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    path.split('/')
        .map(|seg| uri_encode(&percent_decode(seg), true))
        .collect::<Vec<_>>()
        .join("/")
}

fn canonical_query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), true),
                uri_encode(&percent_decode(v), true),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (b == b'/' && !encode_slash)
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    /// AWS's published example (sig-v4-test-suite "get-vanilla"), with the example credentials.
    #[test]
    fn verifies_the_aws_test_suite_vanilla_request() {
        let creds = Credentials::from_pairs([(
            "AKIDEXAMPLE".to_owned(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned(),
        )]);
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        headers.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
        );
        let now = parse_amz_date("20150830T123600Z").unwrap();
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        verify(&creds, &req, now).expect("valid signature");

        assert_eq!(access_key_id(&headers).as_deref(), Some("AKIDEXAMPLE"));
        assert_eq!(access_key_id(&HeaderMap::new()), None);

        // A different body no longer matches.
        let tampered = SignedRequest { body: b"x", ..req };
        let err = verify(&creds, &tampered, now).unwrap_err();
        assert_eq!(err.kind, "InvalidSignatureException");

        // Unknown key.
        let err = verify(&Credentials::default(), &req, now).unwrap_err();
        assert_eq!(err.kind, "UnrecognizedClientException");

        // 16 minutes later.
        let err = verify(&creds, &req, now + Duration::from_secs(16 * 60)).unwrap_err();
        assert!(
            err.message.starts_with("Signature expired"),
            "{}",
            err.message
        );
        // 14 minutes later is fine.
        verify(&creds, &req, now + Duration::from_secs(14 * 60)).expect("within skew");
    }

    #[test]
    fn missing_authorization_is_refused() {
        let headers = HeaderMap::new();
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        let err = verify(&Credentials::default(), &req, SystemTime::now()).unwrap_err();
        assert_eq!(err.kind, "MissingAuthenticationTokenException");
    }
    #[test]
    fn malformed_authorization_is_an_incomplete_signature() {
        let creds = Credentials::from_pairs([("AKID".to_owned(), "secret".to_owned())]);
        let cases = [
            ("Basic dXNlcjpwYXNz", Some("20150830T123600Z")),
            (
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/firehose/aws4_request",
                Some("20150830T123600Z"),
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/firehose, SignedHeaders=host, Signature=00",
                Some("20150830T123600Z"),
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/firehose/aws4_request, SignedHeaders=host, Signature=00",
                None,
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/firehose/aws4_request, SignedHeaders=x-amz-date, Signature=00",
                Some("20150830T123600Z"),
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/firehose/aws4_request, SignedHeaders=host, Signature=00",
                Some("yesterday"),
            ),
        ];
        let now = parse_amz_date("20150830T123600Z").unwrap();
        for (auth, date) in cases {
            let mut headers = HeaderMap::new();
            headers.insert("host", HeaderValue::from_static("localhost"));
            headers.insert("authorization", HeaderValue::from_str(auth).unwrap());
            if let Some(d) = date {
                headers.insert("x-amz-date", HeaderValue::from_str(d).unwrap());
            }
            let req = SignedRequest {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body: b"",
            };
            let err = verify(&creds, &req, now).unwrap_err();
            assert_eq!(
                err.kind, "IncompleteSignatureException",
                "{auth} / {date:?}: {}",
                err.message
            );
        }
    }

    #[test]
    fn dates_are_read_in_the_basic_format_only() {
        let at = |secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(at(1_440_938_160)));
        assert_eq!(parse_scope_date("20150830"), Some(at(1_440_892_800)));
        for bad in [
            "20150830T123600",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150830T246000Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
        assert_eq!(parse_scope_date("2015083"), None);
        assert_eq!(parse_scope_date("20150230"), None);
    }

    #[test]
    fn digests_are_spelled_in_lowercase_hex() {
        assert_eq!(hex_lower(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(
            hex_lower(&Sha256::digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
