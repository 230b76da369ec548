//! The flush journal: which log batches each buffer flush holds, recorded before its object is
//! written, and that it was written. After a crash the log replays every batch the checkpoint
//! had not passed, and the batches are cut where they were (`batch::cuts`); with this journal
//! each replayed part goes where it went before:
//!
//! - into nothing, when the flush it joined was written: its records are in that object;
//! - into a buffer that regroups the flush it joined, when that flush was recorded but not
//!   known to be written: once every batch of the flush is back the buffer flushes with the
//!   same records, so its object gets the same name and overwrites the one perhaps written.
//!
//! One JSON object per line (`{"Intent":{"id":..,"partition":{..},"batches":[..]}}` or
//! `{"Done":id}`): a torn last line is ignored. Intents are fsync'd (with the log's `fsync`
//! durability) before the object is written; `Done` lines need not be: a lost one only means
//! the flush is regrouped and written once more under the same name.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::record::Partition;
use crate::support::durable_file;

/// Flushes kept in the file however old: their batches are checkpointed long since.
const KEEP: usize = 1024;
/// The file is rewritten with the kept entries after this many appended lines.
const COMPACT_AFTER: usize = 8192;

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Entry {
    Intent {
        id: u64,
        partition: Partition,
        batches: Vec<u64>,
    },
    Done(u64),
}

/// What a replayed part of the batch starting at `first` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Buffered as any new record.
    New,
    /// Already in a written object: dropped.
    Written,
    /// Joins the regrouped flush `id`, which waits for `batches` batches in all.
    Regroup { id: u64, batches: usize },
}

pub struct FlushJournal {
    path: PathBuf,
    sync: bool,
    state: Mutex<State>,
}

struct State {
    file: File,
    next_id: u64,
    /// Recent intents, oldest first, and which of them are done (what a rewrite keeps).
    recent: Vec<(u64, Arc<Partition>, Vec<u64>)>,
    done: HashSet<u64>,
    appended: usize,
    /// (partition, batch) → route, for the batches the log replays.
    routes: HashMap<(Arc<Partition>, u64), Route>,
}

impl FlushJournal {
    /// Opens `path`; flushes holding a batch at or after `replay_from` (the checkpoint) are
    /// routed on replay. `sync`: fsync intents.
    pub fn open(path: PathBuf, replay_from: u64, sync: bool) -> io::Result<Self> {
        let entries = match fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .filter_map(|line| serde_json::from_str::<Entry>(line).ok())
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let (recent, done) = split(entries, replay_from);
        let routes = routes(&recent, &done);
        let next_id = recent.iter().map(|(id, ..)| id + 1).max().unwrap_or(0);
        let mut appended = 0;
        if let Err(e) = rewrite(&path, &recent, &done) {
            // A full disk must not keep the stream from starting: the old file still holds
            // the live entries among dead ones.
            tracing::warn!(error = %e, "compacting the flush journal failed; appending to it as it is");
            appended = COMPACT_AFTER;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self {
            path,
            sync,
            state: Mutex::new(State {
                file,
                next_id,
                recent,
                done,
                appended,
                routes,
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where the replayed part of `partition` in the batch starting at `first` goes.
    pub fn route(&self, partition: &Arc<Partition>, first: u64) -> Route {
        let state = self.state();
        if state.routes.is_empty() {
            return Route::New;
        }
        state
            .routes
            .get(&(partition.clone(), first))
            .copied()
            .unwrap_or(Route::New)
    }

    /// Records (durably) that a flush of `partition` holding `batches` is about to be written;
    /// returns its id.
    pub fn intent(&self, partition: &Arc<Partition>, batches: Vec<u64>) -> io::Result<u64> {
        let mut state = self.state();
        let id = state.next_id;
        state.next_id += 1;
        let entry = Entry::Intent {
            id,
            partition: (**partition).clone(),
            batches: batches.clone(),
        };
        self.append(&mut state, &entry, self.sync)?;
        state.recent.push((id, partition.clone(), batches));
        Ok(id)
    }

    /// Records that flush `id` was written (not synced: see the module comment).
    pub fn done(&self, id: u64) -> io::Result<()> {
        let mut state = self.state();
        self.append(&mut state, &Entry::Done(id), false)?;
        state.done.insert(id);
        for route in state.routes.values_mut() {
            if matches!(route, Route::Regroup { id: r, .. } if *r == id) {
                *route = Route::Written;
            }
        }
        Ok(())
    }

    fn append(&self, state: &mut State, entry: &Entry, sync: bool) -> io::Result<()> {
        if state.appended >= COMPACT_AFTER {
            let cut = state.recent.len().saturating_sub(KEEP);
            state.recent.drain(..cut);
            let kept: HashSet<u64> = state.recent.iter().map(|(id, ..)| *id).collect();
            state.done.retain(|id| kept.contains(id));
            rewrite(&self.path, &state.recent, &state.done)?;
            state.file = OpenOptions::new().append(true).open(&self.path)?;
            state.appended = 0;
        }
        let mut line = serde_json::to_vec(entry).map_err(io::Error::other)?;
        line.push(b'\n');
        state.file.write_all(&line)?;
        if sync {
            state.file.sync_data()?;
        }
        state.appended += 1;
        Ok(())
    }
}

type Intents = Vec<(u64, Arc<Partition>, Vec<u64>)>;

/// The intents holding a batch at or after `replay_from`, and which of them are done.
fn split(entries: Vec<Entry>, replay_from: u64) -> (Intents, HashSet<u64>) {
    let mut intents = Vec::new();
    let mut done = HashSet::new();
    for entry in entries {
        match entry {
            Entry::Intent {
                id,
                partition,
                batches,
            } if batches.iter().any(|&b| b >= replay_from) => {
                intents.push((id, Arc::new(partition), batches));
            }
            Entry::Intent { .. } => {}
            Entry::Done(id) => {
                done.insert(id);
            }
        }
    }
    let live: HashSet<u64> = intents.iter().map(|(id, ..)| *id).collect();
    done.retain(|id| live.contains(id));
    (intents, done)
}

fn routes(intents: &Intents, done: &HashSet<u64>) -> HashMap<(Arc<Partition>, u64), Route> {
    let mut routes = HashMap::new();
    for (id, partition, batches) in intents {
        let route = if done.contains(id) {
            Route::Written
        } else {
            Route::Regroup {
                id: *id,
                batches: batches.len(),
            }
        };
        for &first in batches {
            routes.insert((partition.clone(), first), route);
        }
    }
    routes
}

/// Replaces the file with `intents` and their done marks, atomically.
fn rewrite(path: &Path, intents: &Intents, done: &HashSet<u64>) -> io::Result<()> {
    let mut out = Vec::new();
    for (id, partition, batches) in intents {
        let entry = Entry::Intent {
            id: *id,
            partition: (**partition).clone(),
            batches: batches.clone(),
        };
        out.extend(serde_json::to_vec(&entry).map_err(io::Error::other)?);
        out.push(b'\n');
        if done.contains(id) {
            out.extend(serde_json::to_vec(&Entry::Done(*id)).map_err(io::Error::other)?);
            out.push(b'\n');
        }
    }
    durable_file::replace(path, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &str) -> Arc<Partition> {
        Arc::new([("k".to_owned(), v.to_owned())].into())
    }

    #[test]
    fn written_flushes_drop_their_parts_and_unwritten_ones_regroup() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("partitions.flushes");
        let j = FlushJournal::open(path.clone(), 0, true).expect("open");
        let a = j.intent(&p("a"), vec![0, 10]).expect("intent");
        let b = j.intent(&p("b"), vec![10, 20]).expect("intent");
        let old = j.intent(&p("c"), vec![0]).expect("intent");
        j.done(a).expect("done");
        j.done(old).expect("done");
        // A torn line at the end is ignored.
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{\"Done\":"))
            .expect("tear");

        let j = FlushJournal::open(path, 10, true).expect("reopen");
        assert_eq!(j.route(&p("a"), 10), Route::Written);
        assert_eq!(j.route(&p("b"), 20), Route::Regroup { id: b, batches: 2 });
        assert_eq!(j.route(&p("c"), 0), Route::New, "before the checkpoint");
        assert_eq!(j.route(&p("a"), 30), Route::New);
        j.done(b).expect("done");
        assert_eq!(j.route(&p("b"), 10), Route::Written);
        assert!(
            j.intent(&p("d"), vec![30]).expect("intent") > b,
            "ids keep growing"
        );
    }
}
