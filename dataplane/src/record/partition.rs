//! The key records are grouped by before delivery.

/// A dynamic partition: the values of the `partitionKeyFromQuery:` / `partitionKeyFromLambda:`
/// keys a prefix names, by key. The empty map is the whole stream's one buffer.
pub type Partition = std::collections::BTreeMap<String, String>;
