//! The SigV4 `Authorization` header parser and verifier.
//!
//! The input is a request as text: `METHOD PATH[?QUERY]`, header lines `name: value`, an empty
//! line, the body (header lines that are not valid HTTP are left out). It is verified with the
//! key `AKIDEXAMPLE` at 2015-08-30T12:36:00Z (AWS's test-suite date).
//!
//! Asserts: the answer is one of SigV4's four errors, or acceptance; an accepted request is no
//! longer accepted with a different method, another byte of body (unless its payload is
//! unsigned), or another access key.

use std::time::{Duration, SystemTime};

use dataplane::ingest::sigv4::{Credentials, SignedRequest, access_key_id, verify};
use http::{HeaderMap, HeaderName, HeaderValue};

/// 2015-08-30T12:36:00Z.
const NOW_SECS: u64 = 1_440_938_160;

pub fn check(input: &[u8]) {
    let (head, body) = match input.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&input[..i], &input[i + 2..]),
        None => (input, &b""[..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n');
    let request_line = lines.next().unwrap_or_default();
    let (method, target) = request_line.split_once(' ').unwrap_or((request_line, "/"));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            headers.append(name, value);
        }
    }
    let credentials = Credentials::from_pairs([(
        "AKIDEXAMPLE".to_owned(),
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned(),
    )]);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_SECS);
    let request = SignedRequest {
        method,
        path,
        query,
        headers: &headers,
        body,
    };
    // Who signed is read without verifying; it must not disagree with the verifier.
    let signer = access_key_id(&headers);
    match verify(&credentials, &request, now) {
        Ok(()) => {
            assert_eq!(signer.as_deref(), Some("AKIDEXAMPLE"));
            let other_method = if method == "GET" { "POST" } else { "GET" };
            let changed = SignedRequest {
                method: other_method,
                ..request
            };
            assert!(verify(&credentials, &changed, now).is_err());
            let unsigned = headers
                .get("x-amz-content-sha256")
                .is_some_and(|v| v.as_bytes() == b"UNSIGNED-PAYLOAD");
            if !unsigned {
                let mut longer = body.to_vec();
                longer.push(b'x');
                let changed = SignedRequest {
                    body: &longer,
                    ..request
                };
                assert!(verify(&credentials, &changed, now).is_err());
            }
            let other_key =
                Credentials::from_pairs([("AKIDEXAMPLE".to_owned(), "another secret".to_owned())]);
            assert!(verify(&other_key, &request, now).is_err());
        }
        Err(e) => {
            assert!(
                matches!(
                    e.kind,
                    "IncompleteSignatureException"
                        | "InvalidSignatureException"
                        | "MissingAuthenticationTokenException"
                        | "UnrecognizedClientException"
                ),
                "unexpected error {}: {}",
                e.kind,
                e.message
            );
            assert!(e.status.is_client_error());
        }
    }
}
