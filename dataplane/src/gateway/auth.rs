//! Who sent a request and what it may do: every request is signed (SigV4) by a key of the
//! keys file, whose grant names its namespace and, optionally, its operations.

use std::time::SystemTime;

use http::HeaderMap;

use super::keys::{Grant, Keys};
use crate::control;
use crate::ingest::error::ApiError;
use crate::ingest::sigv4::{self, SignedRequest};

/// The grant of the key that signed the request: MissingAuthenticationTokenException without
/// a signature, UnrecognizedClientException for a key not in the file,
/// InvalidSignatureException for a signature that does not match.
pub fn authenticate<'k>(
    keys: &'k Keys,
    request: &SignedRequest<'_>,
    now: SystemTime,
) -> Result<&'k Grant, ApiError> {
    sigv4::verify(&keys.credentials, request, now)?;
    sigv4::access_key_id(request.headers)
        .and_then(|id| keys.grant(&id))
        .ok_or_else(ApiError::unrecognized_client)
}

/// AccessDeniedException unless the grant lists `operation`; the refusal names the stream's
/// ARN (or every stream's, for an operation on none).
pub fn authorize(
    grant: &Grant,
    operation: &str,
    body: &[u8],
    env: &crds::firehose::Environment,
) -> Result<(), ApiError> {
    if grant.allows(operation) {
        return Ok(());
    }
    let stream = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("DeliveryStreamName")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "*".to_owned());
    Err(ApiError::access_denied(
        &grant.user,
        operation,
        &control::arn(env, &stream),
    ))
}

/// The operation an `X-Amz-Target` names, if the gateway answers it.
pub fn operation(headers: &HeaderMap) -> Result<&str, ApiError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let operation = target.strip_prefix("Firehose_20150804.").unwrap_or("");
    let known = matches!(operation, "PutRecord" | "PutRecordBatch")
        || control::OPERATIONS.contains(&operation);
    if known {
        Ok(operation)
    } else if target.is_empty() {
        Err(ApiError::unknown_operation("Missing X-Amz-Target header"))
    } else {
        Err(ApiError::unknown_operation(format!(
            "Unknown operation {target}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::firehose::{Environment, S3Target, SecretPolicy};
    use http::HeaderValue;

    fn env() -> Environment {
        Environment {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            s3: S3Target::Store {
                endpoint: None,
                region: "us-east-1".into(),
                force_path_style: true,
                credentials_secret: Some("s3".into()),
            },
            lambda_endpoint: None,
            opensearch_domain_endpoint: None,
            kinesis_endpoint: None,
            kafka_bootstrap_servers: None,
            secrets: SecretPolicy::Reference,
        }
    }

    /// AWS's "get-vanilla" example request, signed by AKIDEXAMPLE at 20150830T123600Z.
    fn vanilla() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        headers.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
        );
        headers
    }

    fn at() -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160)
    }

    fn request(headers: &HeaderMap) -> SignedRequest<'_> {
        SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers,
            body: b"",
        }
    }

    #[test]
    fn the_signing_key_names_the_namespace() {
        let keys = Keys::parse(
            "- {accessKeyId: AKIDEXAMPLE, secretAccessKey: wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, namespace: team-a}\n",
            "123456789012",
        )
        .expect("keys");
        let headers = vanilla();
        let grant = authenticate(&keys, &request(&headers), at()).expect("signed");
        assert_eq!(grant.namespace, "team-a");

        let wrong = Keys::parse(
            "- {accessKeyId: AKIDEXAMPLE, secretAccessKey: other, namespace: team-a}\n",
            "1",
        )
        .expect("keys");
        let e = authenticate(&wrong, &request(&headers), at()).unwrap_err();
        assert_eq!(e.kind, "InvalidSignatureException");

        let other = Keys::parse(
            "- {accessKeyId: AKIDOTHER, secretAccessKey: s, namespace: b}\n",
            "1",
        )
        .expect("keys");
        let e = authenticate(&other, &request(&headers), at()).unwrap_err();
        assert_eq!(e.kind, "UnrecognizedClientException");
        assert_eq!(
            e.message,
            "The security token included in the request is invalid."
        );

        let e = authenticate(&keys, &request(&HeaderMap::new()), at()).unwrap_err();
        assert_eq!(e.kind, "MissingAuthenticationTokenException");
    }

    #[test]
    fn an_operation_the_key_does_not_list_is_denied_as_aws_words_it() {
        let keys = Keys::parse(
            "- {accessKeyId: AKIDP, secretAccessKey: s, namespace: team-a, operations: [PutRecord]}\n",
            "123456789012",
        )
        .expect("keys");
        let grant = keys.grant("AKIDP").expect("grant");
        assert!(authorize(grant, "PutRecord", b"{}", &env()).is_ok());
        let e = authorize(
            grant,
            "DeleteDeliveryStream",
            br#"{"DeliveryStreamName":"orders"}"#,
            &env(),
        )
        .unwrap_err();
        assert_eq!(e.kind, "AccessDeniedException");
        assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message,
            "User: arn:aws:iam::123456789012:user/AKIDP is not authorized to perform: firehose:DeleteDeliveryStream on resource: arn:aws:firehose:us-east-1:123456789012:deliverystream/orders"
        );
        let e = authorize(grant, "ListDeliveryStreams", b"", &env()).unwrap_err();
        assert!(e.message.ends_with("deliverystream/*"), "{}", e.message);
    }

    #[test]
    fn only_firehose_operations_are_answered() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            operation(&headers).unwrap_err().kind,
            "UnknownOperationException"
        );
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("Firehose_20150804.PutRecord"),
        );
        assert_eq!(operation(&headers).expect("put"), "PutRecord");
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("Firehose_20150804.UpdateDestination"),
        );
        assert_eq!(operation(&headers).expect("update"), "UpdateDestination");
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("Kinesis_20131202.PutRecord"),
        );
        assert!(operation(&headers).is_err());
    }
}
