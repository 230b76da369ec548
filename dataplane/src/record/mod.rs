//! The plain types every stage shares: a batch of records read from the log, a record's place
//! in it, the partition key records are grouped by, why a record failed, and when a buffer of
//! records is cut. This layer imports no stage; every stage imports it.

mod batch;
mod failure;
mod hints;
pub mod kpl;
mod partition;

pub use batch::{Batch, RecordMeta};
pub use failure::{FailedRecord, Failure};
pub use hints::Hints;
pub use partition::Partition;
