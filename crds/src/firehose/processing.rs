//! `ProcessingConfiguration {Enabled, Processors[{Type, Parameters[{ParameterName,
//! ParameterValue}]}]}` ↔ the spec's typed processors.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Environment, Fault, arn, json};
use crate::{
    CloudWatchLogProcessing, Decompression, DecompressionFormat, LambdaProcessor,
    MetadataExtraction, ProcessingConfiguration, Processor, ProcessorType, RecordDeAggregation,
    SubRecordType,
};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Config {
    enabled: Option<bool>,
    #[serde(default)]
    processors: Vec<ProcessorIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessorIn {
    r#type: ProcessorType,
    #[serde(default)]
    parameters: Vec<Parameter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Parameter {
    parameter_name: String,
    parameter_value: String,
}

/// The parameters each processor type takes (`RoleArn` is Firehose's and has no effect here).
fn allowed(kind: ProcessorType) -> &'static [&'static str] {
    match kind {
        ProcessorType::Lambda => &[
            "LambdaArn",
            "NumberOfRetries",
            "RoleArn",
            "BufferSizeInMBs",
            "BufferIntervalInSeconds",
        ],
        ProcessorType::RecordDeAggregation => &["SubRecordType", "Delimiter"],
        ProcessorType::Decompression => &["CompressionFormat"],
        ProcessorType::CloudWatchLogProcessing => &["DataMessageExtraction"],
        ProcessorType::MetadataExtraction => &["MetadataExtractionQuery", "JsonParsingEngine"],
        ProcessorType::AppendDelimiterToRecord => &[],
    }
}

/// `value` (the member at `path`, if given) as the spec's processing.
pub(crate) fn parse(
    value: Option<&Value>,
    env: &Environment,
    path: &str,
) -> Result<ProcessingConfiguration, Fault> {
    let Some(value) = value else {
        return Ok(ProcessingConfiguration::default());
    };
    let config: Config = json::typed(value, path)?;
    let processors = config
        .processors
        .iter()
        .enumerate()
        .map(|(i, p)| processor(p, env, &format!("{path}.Processors[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(ProcessingConfiguration {
        enabled: config.enabled.unwrap_or(false),
        processors,
    })
}

fn processor(p: &ProcessorIn, env: &Environment, path: &str) -> Result<Processor, Fault> {
    let names = allowed(p.r#type);
    for (j, param) in p.parameters.iter().enumerate() {
        let name = param.parameter_name.as_str();
        let at = format!("{path}.Parameters[{j}].ParameterName");
        if !names.contains(&name) {
            let takes = if names.is_empty() {
                "it takes none".to_owned()
            } else {
                format!("it takes {}", names.join(", "))
            };
            return Err(Fault::invalid(format!(
                "{at}: {name} is not a parameter of a {:?} processor ({takes})",
                p.r#type
            )));
        }
        if p.parameters[..j].iter().any(|q| q.parameter_name == name) {
            return Err(Fault::invalid(format!("{at}: {name} is given twice")));
        }
    }
    let params = Params { p, path };
    let mut out = Processor::of(p.r#type);
    match p.r#type {
        ProcessorType::Lambda => out.lambda = Some(lambda(&params, env)?),
        ProcessorType::RecordDeAggregation => {
            let kind = match params.required("SubRecordType")? {
                (_, "JSON") => SubRecordType::Json,
                (_, "DELIMITED") => SubRecordType::Delimited,
                (_, "KPL") => SubRecordType::Kpl,
                (at, other) => return Err(bad(&at, other, "JSON, DELIMITED or KPL")),
            };
            out.record_de_aggregation = Some(RecordDeAggregation {
                sub_record_type: kind,
                delimiter: params.get("Delimiter").map(|(_, v)| v.to_owned()),
            });
        }
        ProcessorType::Decompression => {
            if let Some((at, v)) = params.get("CompressionFormat") {
                if v != "GZIP" {
                    return Err(bad(&at, v, "GZIP"));
                }
                out.decompression = Some(Decompression {
                    compression_format: DecompressionFormat::Gzip,
                });
            }
        }
        ProcessorType::CloudWatchLogProcessing => {
            if let Some((at, v)) = params.get("DataMessageExtraction") {
                let extract = v
                    .parse::<bool>()
                    .map_err(|_| bad(&at, v, "true or false"))?;
                out.cloud_watch_log_processing = Some(CloudWatchLogProcessing {
                    data_message_extraction: extract,
                });
            }
        }
        ProcessorType::MetadataExtraction => {
            let (_, query) = params.required("MetadataExtractionQuery")?;
            let engine = match params.get("JsonParsingEngine") {
                Some((_, "JQ-1.6")) | None => "JQ-1.6".to_owned(),
                Some((at, other)) => return Err(bad(&at, other, "JQ-1.6")),
            };
            out.metadata_extraction = Some(MetadataExtraction {
                query: query.to_owned(),
                json_parsing_engine: engine,
            });
        }
        ProcessorType::AppendDelimiterToRecord => {}
    }
    Ok(out)
}

fn lambda(params: &Params, env: &Environment) -> Result<LambdaProcessor, Fault> {
    let (at, target) = params.required("LambdaArn")?;
    let mut l = LambdaProcessor {
        url: arn::lambda_url(env, target, &at)?,
        number_of_retries: 3,
        buffer_size_in_mbs: 1.0,
        buffer_interval_in_seconds: 60,
        timeout_in_seconds: 300,
        max_concurrency: 5,
        auth_secret: None,
    };
    if let Some((at, v)) = params.get("NumberOfRetries") {
        l.number_of_retries = int_in(&at, v, 0, 300)?;
    }
    if let Some((at, v)) = params.get("BufferIntervalInSeconds") {
        l.buffer_interval_in_seconds = int_in(&at, v, 0, 900)?;
    }
    if let Some((at, v)) = params.get("BufferSizeInMBs") {
        l.buffer_size_in_mbs = v
            .parse::<f64>()
            .ok()
            .filter(|mb| (0.2..=3.0).contains(mb))
            .ok_or_else(|| bad(&at, v, "a number of MiB from 0.2 to 3"))?;
    }
    Ok(l)
}

/// A processor's parameters by name, each with the path of its value.
struct Params<'a> {
    p: &'a ProcessorIn,
    path: &'a str,
}

impl<'a> Params<'a> {
    fn get(&self, name: &str) -> Option<(String, &'a str)> {
        self.p
            .parameters
            .iter()
            .enumerate()
            .find(|(_, q)| q.parameter_name == name)
            .map(|(j, q)| {
                let at = format!("{}.Parameters[{j}].ParameterValue", self.path);
                (at, q.parameter_value.as_str())
            })
    }

    fn required(&self, name: &str) -> Result<(String, &'a str), Fault> {
        self.get(name).ok_or_else(|| {
            Fault::invalid(format!(
                "{}.Parameters: a {:?} processor needs the parameter {name}",
                self.path, self.p.r#type
            ))
        })
    }
}

fn int_in(at: &str, v: &str, lo: i32, hi: i32) -> Result<i32, Fault> {
    v.parse::<i32>()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| bad(at, v, &format!("an integer from {lo} to {hi}")))
}

fn bad(at: &str, value: &str, wanted: &str) -> Fault {
    Fault::invalid(format!(
        "{at}: `{value}` is not valid here; expected {wanted}"
    ))
}

/// The description's `ProcessingConfiguration`, every spec parameter as Firehose's name/value.
pub(crate) fn render(p: &ProcessingConfiguration) -> Value {
    let processors: Vec<Value> = p
        .processors
        .iter()
        .map(|p| {
            let parameters: Vec<Value> = parameters(p)
                .into_iter()
                .map(|(name, value)| json!({"ParameterName": name, "ParameterValue": value}))
                .collect();
            json!({"Type": p.r#type, "Parameters": parameters})
        })
        .collect();
    json!({"Enabled": p.enabled, "Processors": processors})
}

fn parameters(p: &Processor) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(l) = &p.lambda {
        out.push(("LambdaArn", l.url.clone()));
        out.push(("NumberOfRetries", l.number_of_retries.to_string()));
        out.push(("BufferSizeInMBs", l.buffer_size_in_mbs.to_string()));
        out.push((
            "BufferIntervalInSeconds",
            l.buffer_interval_in_seconds.to_string(),
        ));
    }
    if let Some(d) = &p.record_de_aggregation {
        let kind = match d.sub_record_type {
            SubRecordType::Json => "JSON",
            SubRecordType::Delimited => "DELIMITED",
            SubRecordType::Kpl => "KPL",
        };
        out.push(("SubRecordType", kind.to_owned()));
        if let Some(delim) = &d.delimiter {
            out.push(("Delimiter", delim.clone()));
        }
    }
    if p.decompression.is_some() {
        out.push(("CompressionFormat", "GZIP".to_owned()));
    }
    if let Some(c) = &p.cloud_watch_log_processing {
        out.push((
            "DataMessageExtraction",
            c.data_message_extraction.to_string(),
        ));
    }
    if let Some(m) = &p.metadata_extraction {
        out.push(("MetadataExtractionQuery", m.query.clone()));
        out.push(("JsonParsingEngine", m.json_parsing_engine.clone()));
    }
    out
}
