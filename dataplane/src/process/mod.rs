//! Record processors applied between the log and the encoder. Today: `AppendDelimiterToRecord`.

use crds::ProcessingConfiguration;

/// The processing a stream applies to each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Processing {
    append_delimiter: bool,
}

impl Processing {
    pub fn from_spec(spec: &ProcessingConfiguration) -> Self {
        Self {
            append_delimiter: spec.appends_delimiter(),
        }
    }

    /// Adds one record to a batch being assembled. Records are concatenated byte for byte, with a
    /// newline after each only when `AppendDelimiterToRecord` is configured (Firehose's rule).
    pub fn append(&self, batch: &mut Vec<u8>, record: &[u8]) {
        batch.extend_from_slice(record);
        if self.append_delimiter {
            batch.push(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::{Processor, ProcessorType};

    #[test]
    fn delimiter_only_when_configured_and_enabled() {
        let mut spec = ProcessingConfiguration {
            enabled: true,
            processors: vec![Processor {
                r#type: ProcessorType::AppendDelimiterToRecord,
            }],
        };
        let mut out = Vec::new();
        Processing::from_spec(&spec).append(&mut out, b"a");
        assert_eq!(out, b"a\n");
        spec.enabled = false;
        let mut out = Vec::new();
        Processing::from_spec(&spec).append(&mut out, b"a");
        Processing::from_spec(&spec).append(&mut out, b"b");
        assert_eq!(out, b"ab");
    }
}
