use thiserror::Error;

/// Why a request is refused: the Firehose exception and its message.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{}: {message}", kind.type_name())]
pub struct Fault {
    pub kind: FaultKind,
    pub message: String,
}

/// The Firehose exceptions translation can raise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    InvalidArgument,
    InvalidKmsResource,
    ResourceInUse,
}

impl FaultKind {
    /// The `__type` Firehose answers with.
    pub fn type_name(self) -> &'static str {
        match self {
            FaultKind::InvalidArgument => "InvalidArgumentException",
            FaultKind::InvalidKmsResource => "InvalidKMSResourceException",
            FaultKind::ResourceInUse => "ResourceInUseException",
        }
    }
}

impl Fault {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            kind: FaultKind::InvalidArgument,
            message: message.into(),
        }
    }

    pub fn kms(message: impl Into<String>) -> Self {
        Self {
            kind: FaultKind::InvalidKmsResource,
            message: message.into(),
        }
    }

    /// A member Hydrant refuses: `<path> is not supported by Hydrant: <why>`.
    pub fn unsupported(path: &str, why: &str) -> Self {
        if why.is_empty() {
            Self::invalid(format!("{path} is not supported by Hydrant"))
        } else {
            Self::invalid(format!("{path} is not supported by Hydrant: {why}"))
        }
    }
}
