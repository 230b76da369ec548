use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Firehose's `ProcessingConfiguration`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessingConfiguration {
    /// Processors run only when enabled.
    #[serde(default)]
    pub enabled: bool,
    /// Applied in Firehose's order.
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub processors: Vec<Processor>,
}

impl ProcessingConfiguration {
    /// Whether records get a newline appended before delivery.
    pub fn appends_delimiter(&self) -> bool {
        self.enabled
            && self
                .processors
                .iter()
                .any(|p| p.r#type == ProcessorType::AppendDelimiterToRecord)
    }
}

/// One processor.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Processor {
    /// The processor type, as Firehose names it.
    pub r#type: ProcessorType,
}

/// Processor types (Firehose's names). Others arrive with the processing issue.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ProcessorType {
    /// Appends a newline to every record.
    AppendDelimiterToRecord,
}
