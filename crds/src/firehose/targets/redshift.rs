//! `RedshiftDestinationConfiguration` ↔ the `redshift` destination.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Common, Environment, Fault, no_secrets_manager, shared};
use crate::firehose::s3::Retry;
use crate::firehose::secrets::Secrets;
use crate::firehose::{arn, json};
use crate::{CopyCommand, Destination, RedshiftDestination, RetryOptions};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Config {
    #[serde(rename = "RoleARN")]
    role_arn: String,
    #[serde(rename = "ClusterJDBCURL")]
    cluster_jdbc_url: String,
    copy_command: Copy,
    username: Option<String>,
    password: Option<String>,
    retry_options: Option<Retry>,
    s3_backup_mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Copy {
    data_table_name: String,
    data_table_columns: Option<String>,
    copy_options: Option<String>,
}

pub(super) fn parse(
    value: &Value,
    env: &Environment,
    secrets: &mut Secrets,
    member: &str,
) -> Result<Destination, Fault> {
    no_secrets_manager(value, member)?;
    let c: Config = json::typed(value, member)?;
    let common = Common::parse(value, env, member)?;
    if c.s3_backup_mode.as_deref() == Some("Enabled") {
        return Err(Fault::unsupported(
            &format!("{member}.S3BackupMode Enabled"),
            "a Redshift destination has no source-record backup here",
        ));
    }
    let credentials = secrets
        .credentials(member, c.username.as_deref(), c.password.as_deref())?
        .ok_or_else(|| {
            Fault::invalid(format!(
                "{member}.Username and {member}.Password are required"
            ))
        })?;
    Ok(Destination::Redshift(Box::new(RedshiftDestination {
        cluster_jdbc_url: c.cluster_jdbc_url,
        credentials_secret: credentials,
        copy_command: CopyCommand {
            data_table_name: c.copy_command.data_table_name,
            data_table_columns: c.copy_command.data_table_columns,
            copy_options: c.copy_command.copy_options,
        },
        // Firehose's RoleARN is the role its COPY names, as here.
        role_arn: Some(c.role_arn),
        retry_options: Retry::or(c.retry_options, RetryOptions::default_3600()),
        s3_configuration: common.s3,
        processing_configuration: common.processing,
    })))
}

pub(super) fn render(r: &RedshiftDestination, env: &Environment) -> (&'static str, Value) {
    let d = Destination::Redshift(Box::new(r.clone()));
    let mut body = shared(env, &d, r.retry_options, json!("Disabled"));
    // Redshift's batches are cut by its S3 configuration's hints.
    body.remove("BufferingHints");
    let role = r.role_arn.clone().unwrap_or_else(|| arn::default_role(env));
    body.insert("RoleARN".into(), json!(role));
    body.insert("ClusterJDBCURL".into(), json!(r.cluster_jdbc_url));
    let mut copy = json!({"DataTableName": r.copy_command.data_table_name});
    if let Some(c) = &r.copy_command.data_table_columns {
        copy["DataTableColumns"] = json!(c);
    }
    if let Some(o) = &r.copy_command.copy_options {
        copy["CopyOptions"] = json!(o);
    }
    body.insert("CopyCommand".into(), copy);
    ("RedshiftDestinationDescription", Value::Object(body))
}
