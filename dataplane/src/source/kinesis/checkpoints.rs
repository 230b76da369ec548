//! Shard checkpoints of a process that reads every shard itself (`hydrant run`): one JSON
//! file in the log's directory, replaced atomically on each commit.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::lineage::Checkpoint;

/// `<log dir>/source/kinesis-checkpoints.json`.
pub fn path(log_dir: &Path) -> PathBuf {
    log_dir.join("source").join("kinesis-checkpoints.json")
}

#[derive(Serialize, Deserialize, Default)]
struct File {
    /// The stream the checkpoints belong to: another stream's are ignored.
    stream: String,
    shards: HashMap<String, Checkpoint>,
}

/// The checkpoints stored for `stream`, none if the file is missing or for another stream.
pub fn load(path: &Path, stream: &str) -> std::io::Result<HashMap<String, Checkpoint>> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(e),
    };
    let file: File = serde_json::from_slice(&text).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })?;
    if file.stream != stream {
        tracing::warn!(
            found = %file.stream,
            reading = %stream,
            "the checkpoints are another stream's: starting without them"
        );
        return Ok(HashMap::new());
    }
    Ok(file.shards)
}

/// Replaces the file durably (write, fsync, rename, fsync the directory).
pub fn store(
    path: &Path,
    stream: &str,
    shards: &HashMap<String, Checkpoint>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let body = serde_json::to_vec(&File {
        stream: stream.to_owned(),
        shards: shards.clone(),
    })?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_belong_to_their_stream() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = path(dir.path());
        assert!(load(&p, "s").expect("missing is empty").is_empty());
        let mut shards = HashMap::new();
        shards.insert(
            "shardId-0".to_owned(),
            Checkpoint::SequenceNumber("49".to_owned()),
        );
        shards.insert("shardId-1".to_owned(), Checkpoint::ShardEnd);
        store(&p, "s", &shards).expect("store");
        assert_eq!(load(&p, "s").expect("load"), shards);
        assert!(load(&p, "other").expect("load").is_empty());
        fs::write(&p, b"{not json").expect("write");
        assert!(
            load(&p, "s").is_err(),
            "a corrupt file is an error, not a silent restart"
        );
    }
}
