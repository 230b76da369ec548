//! OpenSearch/Elasticsearch, Splunk, HTTP endpoint and Redshift; the destinations refused.

use crds::{
    ContentEncoding, Destination, DocumentIdFormat, HecEndpointType, HttpBackupMode,
    IndexRotationPeriod, OpenSearchBackupMode, SplunkBackupMode,
};
use serde_json::json;

use crate::support::*;

pub fn opensearch(member: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut c = json!({"RoleARN": ROLE, "IndexName": "logs", "S3Configuration": bucket("failed")});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        c[k] = v;
    }
    request(json!({member: c}))
}

pub fn splunk(extra: serde_json::Value) -> serde_json::Value {
    let mut c = json!({"HECEndpoint": "https://hec:8088", "HECEndpointType": "Event", "HECToken": "tok-1", "S3Configuration": bucket("failed")});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        c[k] = v;
    }
    request(json!({"SplunkDestinationConfiguration": c}))
}

pub fn http(extra: serde_json::Value) -> serde_json::Value {
    let mut c = json!({"EndpointConfiguration": {"Url": "https://collector/in", "Name": "c", "AccessKey": "k3y"}, "S3Configuration": bucket("failed")});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        c[k] = v;
    }
    request(json!({"HttpEndpointDestinationConfiguration": c}))
}

pub fn redshift(username: &str, password: &str) -> serde_json::Value {
    request(json!({"RedshiftDestinationConfiguration": {
        "RoleARN": ROLE,
        "ClusterJDBCURL": "jdbc:redshift://c.abc.eu-west-1.redshift.amazonaws.com:5439/dev",
        "CopyCommand": {"DataTableName": "events", "CopyOptions": "json 'auto'"},
        "Username": username, "Password": password,
        "S3Configuration": bucket("staging"),
    }}))
}

#[test]
fn opensearch_by_domain_or_endpoint() {
    let t = create(
        &opensearch(
            "AmazonopensearchserviceDestinationConfiguration",
            json!({
                "DomainARN": "arn:aws:es:eu-west-1:123456789012:domain/logs",
                "IndexRotationPeriod": "OneHour", "TypeName": "",
                "BufferingHints": {"SizeInMBs": 10, "IntervalInSeconds": 60},
                "RetryOptions": {"DurationInSeconds": 30}, "S3BackupMode": "AllDocuments",
                "DocumentIdOptions": {"DefaultDocumentIdFormat": "NO_DOCUMENT_ID"},
                "VpcConfiguration": {"SubnetIds": ["s-1"], "RoleARN": ROLE, "SecurityGroupIds": ["g-1"]},
            }),
        ),
        &store(),
    );
    let Destination::OpenSearch(os) = &t.spec.destination else {
        panic!()
    };
    assert_eq!(os.endpoint, "https://logs.search.local:9200");
    assert_eq!(os.index_name, "logs");
    assert_eq!(os.type_name, None);
    assert_eq!(os.index_rotation_period, IndexRotationPeriod::OneHour);
    assert_eq!(
        (
            os.buffering_hints.size_in_mbs,
            os.retry_options.duration_in_seconds
        ),
        (10, 30)
    );
    assert_eq!(os.s3_backup_mode, OpenSearchBackupMode::AllDocuments);
    assert_eq!(
        os.document_id_options.default_document_id_format,
        DocumentIdFormat::NoDocumentId
    );
    assert_eq!(os.s3_configuration.location.bucket, "failed");
    let d = described(&t, "s", &store());
    let o = destination(&d, "AmazonopensearchserviceDestinationDescription");
    assert_eq!(
        o["DomainARN"],
        "arn:aws:es:eu-west-1:123456789012:domain/logs"
    );
    assert_eq!(o["ClusterEndpoint"], "https://logs.search.local:9200");
    assert_eq!(
        o["VpcConfigurationDescription"]["SubnetIds"],
        json!(["s-1"])
    );
    assert_eq!(
        o["S3DestinationDescription"]["BucketARN"],
        "arn:aws:s3:::failed"
    );

    let es = create(
        &opensearch(
            "ElasticsearchDestinationConfiguration",
            json!({"ClusterEndpoint": "https://es:9200"}),
        ),
        &laptop_with_store(),
    );
    let d = described(&es, "s", &laptop_with_store());
    assert_eq!(
        destination(&d, "ElasticsearchDestinationDescription")["ClusterEndpoint"],
        "https://es:9200"
    );
    assert!(
        d["Destinations"][0]
            .get("AmazonopensearchserviceDestinationDescription")
            .is_none()
    );
    assert_eq!(
        destination(&d, "ElasticsearchDestinationDescription")["RetryOptions"]["DurationInSeconds"],
        300
    );

    let member = "AmazonopensearchserviceDestinationConfiguration";
    assert_eq!(
        refused(&opensearch(member, json!({})), &store()),
        "AmazonopensearchserviceDestinationConfiguration: DomainARN or ClusterEndpoint is required"
    );
    assert_eq!(
        refused(
            &opensearch(
                member,
                json!({"ClusterEndpoint": "https://a", "DomainARN": "arn:aws:es:eu-west-1:123456789012:domain/abc"})
            ),
            &store()
        ),
        "AmazonopensearchserviceDestinationConfiguration: specify either DomainARN or ClusterEndpoint, not both"
    );
    assert!(refused(&opensearch(member, json!({"DomainARN": "arn:aws:es:eu-west-1:123456789012:domain/abc"})), &laptop_with_store())
        .starts_with("AmazonopensearchserviceDestinationConfiguration.DomainARN: OpenSearch domain ARNs cannot be resolved here"));
    assert!(
        refused(
            &opensearch(
                member,
                json!({"ClusterEndpoint": "https://a", "BufferingHints": {"SizeInMBs": 101}})
            ),
            &store()
        )
        .contains("at 'AmazonopensearchserviceDestinationConfiguration.BufferingHints.SizeInMBs'")
    );
}

#[test]
fn splunk_with_its_token_inline_or_by_reference() {
    let t = create(
        &splunk(
            json!({"S3BackupMode": "AllEvents", "HECAcknowledgmentTimeoutInSeconds": 300, "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 10}}),
        ),
        &store(),
    );
    let Destination::Splunk(sp) = &t.spec.destination else {
        panic!()
    };
    assert_eq!(sp.hec_endpoint, "https://hec:8088");
    assert_eq!(sp.hec_endpoint_type, HecEndpointType::Event);
    assert_eq!(sp.hec_token_secret, "s-hec-token");
    assert_eq!(sp.hec_acknowledgment_timeout_in_seconds, 300);
    assert_eq!(sp.s3_backup_mode, SplunkBackupMode::AllEvents);
    assert_eq!(t.secrets.len(), 1);
    assert_eq!(t.secrets[0].name, "s-hec-token");
    assert_eq!(t.secrets[0].data["token"], "tok-1");
    let d = described(&t, "s", &store()).to_string();
    assert!(
        !d.contains("tok-1"),
        "a secret value is never described: {d}"
    );

    let defaults = create(&splunk(json!({})), &store());
    let Destination::Splunk(sp) = &defaults.spec.destination else {
        panic!()
    };
    assert_eq!(
        (
            sp.buffering_hints.size_in_mbs,
            sp.buffering_hints.interval_in_seconds
        ),
        (5, 60)
    );
    assert_eq!(sp.hec_acknowledgment_timeout_in_seconds, 180);

    let by_ref = create(&splunk(json!({"HECToken": "secret:hec"})), &cluster());
    let Destination::Splunk(sp) = &by_ref.spec.destination else {
        panic!()
    };
    assert_eq!(sp.hec_token_secret, "hec");
    assert!(by_ref.secrets.is_empty());
    assert_eq!(
        refused(&splunk(json!({})), &cluster()),
        "SplunkDestinationConfiguration.HECToken: this installation does not store secret values; give `secret:<name>` naming an existing Kubernetes Secret in the stream's namespace, with key `token`"
    );
    let mut no_token = splunk(json!({}));
    no_token["SplunkDestinationConfiguration"]
        .as_object_mut()
        .unwrap()
        .remove("HECToken");
    assert_eq!(
        refused(&no_token, &store()),
        "SplunkDestinationConfiguration.HECToken is required"
    );
    assert!(
        refused(
            &splunk(json!({"BufferingHints": {"IntervalInSeconds": 61}})),
            &store()
        )
        .ends_with("Member must have value less than or equal to 60")
    );
    assert_eq!(
        refused(
            &splunk(
                json!({"SecretsManagerConfiguration": {"Enabled": true, "SecretARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"}})
            ),
            &store()
        ),
        "SplunkDestinationConfiguration.SecretsManagerConfiguration with Enabled true is not supported by Hydrant: give the secret in the request instead (see the control-plane documentation)"
    );
}

#[test]
fn http_endpoint_with_access_key_and_attributes() {
    let t = create(
        &http(json!({
            "RequestConfiguration": {"ContentEncoding": "GZIP", "CommonAttributes": [{"AttributeName": "env", "AttributeValue": "prod"}]},
            "S3BackupMode": "AllData", "RetryOptions": {"DurationInSeconds": 0},
        })),
        &store(),
    );
    let Destination::HttpEndpoint(h) = &t.spec.destination else {
        panic!()
    };
    assert_eq!(h.endpoint_configuration.url, "https://collector/in");
    assert_eq!(h.endpoint_configuration.name.as_deref(), Some("c"));
    assert_eq!(
        h.endpoint_configuration.access_key_secret.as_deref(),
        Some("s-access-key")
    );
    assert_eq!(t.secrets[0].data["accessKey"], "k3y");
    assert_eq!(
        h.request_configuration.content_encoding,
        ContentEncoding::Gzip
    );
    assert_eq!(
        h.request_configuration.common_attributes[0].attribute_value,
        "prod"
    );
    assert_eq!(h.s3_backup_mode, HttpBackupMode::AllData);
    assert_eq!(h.retry_options.duration_in_seconds, 0);
    let d = described(&t, "s", &store());
    let desc = destination(&d, "HttpEndpointDestinationDescription");
    assert_eq!(
        desc["EndpointConfiguration"],
        json!({"Url": "https://collector/in", "Name": "c"})
    );
    assert!(!d.to_string().contains("k3y"));
    // Plain HTTP is accepted (in-cluster services); other schemes are not.
    let plain = create(
        &http(json!({"EndpointConfiguration": {"Url": "http://svc:8080/in"}})),
        &store(),
    );
    assert!(plain.secrets.is_empty());
    assert!(
        refused(
            &http(json!({"EndpointConfiguration": {"Url": "ftp://svc/in"}})),
            &store()
        )
        .contains("at 'HttpEndpointDestinationConfiguration.EndpointConfiguration.Url'")
    );
    assert!(
        refused(
            &http(json!({"BufferingHints": {"SizeInMBs": 65}})),
            &store()
        )
        .ends_with("less than or equal to 64")
    );
}

#[test]
fn redshift_credentials_become_one_secret() {
    let t = create(&redshift("loader", "hunter22"), &store());
    let Destination::Redshift(r) = &t.spec.destination else {
        panic!()
    };
    assert_eq!(
        r.cluster_jdbc_url,
        "jdbc:redshift://c.abc.eu-west-1.redshift.amazonaws.com:5439/dev"
    );
    assert_eq!(r.copy_command.data_table_name, "events");
    assert_eq!(r.copy_command.copy_options.as_deref(), Some("json 'auto'"));
    assert_eq!(r.role_arn.as_deref(), Some(ROLE));
    assert_eq!(r.retry_options.duration_in_seconds, 3600);
    assert_eq!(r.credentials_secret, "s-redshift-credentials");
    assert_eq!(t.secrets[0].data["username"], "loader");
    assert_eq!(t.secrets[0].data["password"], "hunter22");
    let d = described(&t, "s", &store());
    let desc = destination(&d, "RedshiftDestinationDescription");
    assert_eq!(desc["Username"], "loader");
    assert!(!d.to_string().contains("hunter22"));
    assert_eq!(
        desc["S3DestinationDescription"]["BucketARN"],
        "arn:aws:s3:::staging"
    );

    let by_ref = create(&redshift("secret:rs", "secret:rs"), &cluster());
    let Destination::Redshift(r) = &by_ref.spec.destination else {
        panic!()
    };
    assert_eq!(r.credentials_secret, "rs");
    assert!(refused(&redshift("loader", "secret:rs"), &cluster()).starts_with("RedshiftDestinationConfiguration.Username: this installation does not store secret values"));
    assert!(
        refused(&redshift("loader", "short"), &store())
            .contains("at 'RedshiftDestinationConfiguration.Password'")
    );
    let mut backup = redshift("u", "password");
    backup["RedshiftDestinationConfiguration"]["S3BackupMode"] = json!("Enabled");
    backup["RedshiftDestinationConfiguration"]["S3BackupConfiguration"] = bucket("b");
    assert_eq!(
        refused(&backup, &store()),
        "RedshiftDestinationConfiguration.S3BackupMode Enabled is not supported by Hydrant: a Redshift destination has no source-record backup here"
    );
}

#[test]
fn exactly_one_supported_destination() {
    let none = request(json!({}));
    assert_eq!(
        refused(&none, &store()),
        "Exactly one destination configuration is supported for a Firehose"
    );
    let mut two = ext_s3(json!({}));
    two["HttpEndpointDestinationConfiguration"] =
        http(json!({}))["HttpEndpointDestinationConfiguration"].clone();
    assert_eq!(
        refused(&two, &store()),
        "Exactly one destination configuration is supported for a Firehose"
    );
    for (member, body) in [
        (
            "SnowflakeDestinationConfiguration",
            json!({"AccountUrl": "a.snowflakecomputing.com", "Database": "d", "Schema": "s", "Table": "t", "RoleConfiguration": {"Enabled": false}, "S3Configuration": bucket("b")}),
        ),
        (
            "IcebergDestinationConfiguration",
            json!({"RoleARN": ROLE, "CatalogConfiguration": {}, "S3Configuration": bucket("b")}),
        ),
        (
            "AmazonOpenSearchServerlessDestinationConfiguration",
            json!({"RoleARN": ROLE, "IndexName": "i", "S3Configuration": bucket("b")}),
        ),
    ] {
        let message = crds::firehose::from_create(&request(json!({member: body})), &store())
            .unwrap_err()
            .message;
        assert!(
            message == format!("{member} is not supported by Hydrant") || message.contains(member),
            "{message}"
        );
    }
    assert_eq!(
        refused(
            &request(
                json!({"IcebergDestinationConfiguration": {"RoleARN": ROLE, "S3Configuration": bucket("b"), "CatalogConfiguration": {}}})
            ),
            &store()
        ),
        "IcebergDestinationConfiguration is not supported by Hydrant"
    );
    assert_eq!(
        refused(
            &request(json!({"Colour": "blue", "ExtendedS3DestinationConfiguration": bucket("b")})),
            &store()
        ),
        "Unknown member Colour: CreateDeliveryStreamInput has no member named Colour"
    );
    // Tags are the caller's.
    create(
        &request(
            json!({"Tags": [{"Key": "team", "Value": "data"}], "ExtendedS3DestinationConfiguration": bucket("bkt")}),
        ),
        &store(),
    );
}
