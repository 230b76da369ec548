//! How AWS names (ARNs) resolve on this installation, by the `Environment`'s conventions.

use super::{Environment, Fault, S3Target};
use crate::S3Bucket;

/// The role reported where a request gave none.
pub(crate) fn default_role(env: &Environment) -> String {
    format!("arn:aws:iam::{}:role/hydrant", env.account)
}

/// `arn:<partition>:s3:::<bucket>` → `<bucket>` (the model's pattern has been checked).
pub(crate) fn bucket_name(arn: &str, path: &str) -> Result<String, Fault> {
    match arn.split_once(":s3:::") {
        Some((_, bucket)) if !bucket.is_empty() => Ok(bucket.to_owned()),
        _ => Err(Fault::invalid(format!(
            "{path}: `{arn}` is not an S3 bucket ARN (arn:aws:s3:::<bucket>)"
        ))),
    }
}

/// `arn:aws:s3:::<bucket>`.
pub(crate) fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// The bucket a BucketARN names, on the installation's object store. `path` is the BucketARN
/// member, for the refusal when there is no store.
pub(crate) fn store_bucket(env: &Environment, arn: &str, path: &str) -> Result<S3Bucket, Fault> {
    let bucket = bucket_name(arn, path)?;
    match &env.s3 {
        S3Target::Store {
            endpoint,
            region,
            force_path_style,
            credentials_secret,
        } => Ok(S3Bucket {
            bucket,
            endpoint: endpoint.clone(),
            region: region.clone(),
            force_path_style: *force_path_style,
            credentials_secret: credentials_secret.clone(),
        }),
        S3Target::Directory { .. } => Err(Fault::invalid(format!(
            "{path}: this installation has no S3 store (records are written to a local directory), so only the primary S3 destination can be used; an S3 store must be configured for {path}"
        ))),
    }
}

/// A LambdaArn as the URL the transformation is POSTed to.
pub(crate) fn lambda_url(env: &Environment, value: &str, path: &str) -> Result<String, Fault> {
    if value.starts_with("http://") || value.starts_with("https://") {
        return Ok(value.to_owned());
    }
    let parts: Vec<&str> = value.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", name] => (*name, None),
        ["arn", _, "lambda", _, _, "function", name, q] => (*name, Some(*q)),
        _ => {
            return Err(Fault::invalid(format!(
                "{path}: `{value}` is neither a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]) nor an http(s):// URL"
            )));
        }
    };
    if name.is_empty() || qualifier.is_some_and(str::is_empty) {
        return Err(Fault::invalid(format!(
            "{path}: `{value}` names no function"
        )));
    }
    let Some(base) = &env.lambda_endpoint else {
        return Err(Fault::invalid(format!(
            "{path}: Lambda function ARNs cannot be resolved here: configure the Lambda endpoint Hydrant maps function ARNs to, or give the transformation's http(s):// URL as the LambdaArn"
        )));
    };
    let mut url = format!(
        "{}/2015-03-31/functions/{name}/invocations",
        base.trim_end_matches('/')
    );
    if let Some(q) = qualifier {
        url.push_str("?Qualifier=");
        url.push_str(q);
    }
    Ok(url)
}

/// An OpenSearch DomainARN as the cluster URL.
pub(crate) fn domain_url(env: &Environment, arn: &str, path: &str) -> Result<String, Fault> {
    let Some(template) = &env.opensearch_domain_endpoint else {
        return Err(Fault::invalid(format!(
            "{path}: OpenSearch domain ARNs cannot be resolved here: give ClusterEndpoint (the cluster's URL) instead, or configure the domain endpoint template"
        )));
    };
    let domain = arn.rsplit_once(":domain/").map(|(_, d)| d).unwrap_or("");
    Ok(template.replace("{domain}", domain))
}

/// A KMS key ARN `arn:aws:kms:<r>:<acct>:key/<id>` → the Secret holding that key, `kms-<id>`.
pub(crate) fn kms_secret(arn: &str, path: &str) -> Result<String, Fault> {
    let id = arn.rsplit_once(":key/").map(|(_, id)| id).unwrap_or("");
    let name = format!("kms-{id}");
    if id.is_empty() || !is_secret_name(&name) {
        return Err(Fault::kms(format!(
            "{path}: key `{arn}` cannot be used: its key id must be lowercase letters, digits and '-' (it names the Secret `kms-<id>` that holds the key)"
        )));
    }
    Ok(name)
}

/// A Kubernetes Secret name: a DNS subdomain.
pub(crate) fn is_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firehose::SecretPolicy;

    fn env(lambda: Option<&str>) -> Environment {
        Environment {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            s3: S3Target::Directory { root: "/d".into() },
            lambda_endpoint: lambda.map(str::to_owned),
            opensearch_domain_endpoint: Some("https://{domain}.search:9200".into()),
            kinesis_endpoint: None,
            kafka_bootstrap_servers: None,
            secrets: SecretPolicy::Inline,
        }
    }

    #[test]
    fn lambda_arns_map_to_the_invoke_path() {
        let e = env(Some("http://lambda:9001/"));
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:enrich";
        assert_eq!(
            lambda_url(&e, arn, "P").unwrap(),
            "http://lambda:9001/2015-03-31/functions/enrich/invocations"
        );
        assert_eq!(
            lambda_url(&e, &format!("{arn}:live"), "P").unwrap(),
            "http://lambda:9001/2015-03-31/functions/enrich/invocations?Qualifier=live"
        );
        assert_eq!(lambda_url(&e, "https://t/x", "P").unwrap(), "https://t/x");
        assert!(lambda_url(&e, "arn:aws:sqs:us-east-1:1:q", "P").is_err());
        let err = lambda_url(&env(None), arn, "P.LambdaArn").unwrap_err();
        assert!(
            err.message
                .starts_with("P.LambdaArn: Lambda function ARNs cannot be resolved here")
        );
    }

    #[test]
    fn domains_keys_and_buckets() {
        let e = env(None);
        assert_eq!(
            domain_url(&e, "arn:aws:es:us-east-1:123456789012:domain/logs", "D").unwrap(),
            "https://logs.search:9200"
        );
        assert_eq!(
            kms_secret("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab", "K").unwrap(),
            "kms-1234abcd-12ab"
        );
        assert_eq!(
            kms_secret("arn:aws:kms:us-east-1:123456789012:key/Upper", "K")
                .unwrap_err()
                .kind,
            crate::firehose::FaultKind::InvalidKmsResource
        );
        let err = store_bucket(&e, "arn:aws:s3:::b", "X.S3Configuration.BucketARN").unwrap_err();
        assert!(err.message.contains("an S3 store must be configured"));
    }
}
