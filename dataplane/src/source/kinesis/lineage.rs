//! Which shards may be read now: as the KCL does, a child shard (from a split or a merge) is
//! read only once every parent still retained has been read to its end and that end committed,
//! so records of one partition key are delivered in order across a reshard.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A shard as ListShards reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub id: String,
    /// The split's parent, or one of a merge's two parents.
    pub parent: Option<String>,
    /// The other parent of a merge.
    pub adjacent_parent: Option<String>,
}

impl ShardInfo {
    fn parents(&self) -> impl Iterator<Item = &str> {
        self.parent
            .iter()
            .chain(self.adjacent_parent.iter())
            .map(String::as_str)
    }
}

/// How far a shard has been delivered and committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Checkpoint {
    /// Every record up to and including this sequence number is delivered.
    SequenceNumber(String),
    /// The shard is closed and every record of it is delivered.
    ShardEnd,
}

/// The shards to read: not finished, with every retained parent finished.
pub fn readable<'a>(
    shards: &'a [ShardInfo],
    checkpoints: &HashMap<String, Checkpoint>,
) -> Vec<&'a ShardInfo> {
    let listed: std::collections::HashSet<&str> = shards.iter().map(|s| s.id.as_str()).collect();
    let finished = |id: &str| checkpoints.get(id) == Some(&Checkpoint::ShardEnd);
    shards
        .iter()
        .filter(|s| !finished(&s.id))
        // A parent no longer listed has aged out of the stream's retention: nothing to wait for.
        .filter(|s| s.parents().all(|p| !listed.contains(p) || finished(p)))
        .collect()
}

/// Whether a shard with no checkpoint starts at the oldest record rather than at the
/// configured starting position: a child's records all come after its parents' (which were
/// read), so skipping any of them would lose records.
pub fn starts_at_oldest(shard: &ShardInfo, shards: &[ShardInfo]) -> bool {
    shard.parents().any(|p| shards.iter().any(|s| s.id == p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parent: Option<&str>, adjacent: Option<&str>) -> ShardInfo {
        ShardInfo {
            id: id.to_owned(),
            parent: parent.map(str::to_owned),
            adjacent_parent: adjacent.map(str::to_owned),
        }
    }

    fn ids(v: Vec<&ShardInfo>) -> Vec<&str> {
        v.into_iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn children_wait_for_every_parent_to_finish() {
        // 0 split into 1 and 2; then 1 and 2 merged into 3.
        let shards = vec![
            shard("0", None, None),
            shard("1", Some("0"), None),
            shard("2", Some("0"), None),
            shard("3", Some("1"), Some("2")),
        ];
        let mut cp = HashMap::new();
        assert_eq!(ids(readable(&shards, &cp)), ["0"]);
        cp.insert("0".to_owned(), Checkpoint::SequenceNumber("9".to_owned()));
        assert_eq!(ids(readable(&shards, &cp)), ["0"], "0 not finished yet");
        cp.insert("0".to_owned(), Checkpoint::ShardEnd);
        assert_eq!(ids(readable(&shards, &cp)), ["1", "2"]);
        cp.insert("1".to_owned(), Checkpoint::ShardEnd);
        assert_eq!(
            ids(readable(&shards, &cp)),
            ["2"],
            "3 waits for its other parent"
        );
        cp.insert("2".to_owned(), Checkpoint::ShardEnd);
        assert_eq!(ids(readable(&shards, &cp)), ["3"]);
    }

    #[test]
    fn parents_past_retention_do_not_block() {
        let shards = vec![shard("5", Some("gone"), None)];
        assert_eq!(ids(readable(&shards, &HashMap::new())), ["5"]);
        assert!(!starts_at_oldest(&shards[0], &shards));
    }

    #[test]
    fn children_of_listed_parents_start_at_the_oldest_record() {
        let shards = vec![shard("0", None, None), shard("1", Some("0"), None)];
        assert!(starts_at_oldest(&shards[1], &shards));
        assert!(!starts_at_oldest(&shards[0], &shards));
    }
}
