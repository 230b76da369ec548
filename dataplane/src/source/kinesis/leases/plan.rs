//! Which Leases to claim, take and give up, decided from one listing of the stream's Leases:
//! pure, so the balancing rule is tested without an API server.
//!
//! Every pod runs the same rule on what it sees: the live readers are the distinct holders of
//! unexpired Leases plus itself; each should hold `ceil(readable / readers)` of the readable
//! shards. A pod under that target claims free, expired or missing Leases; one over it gives up
//! the excess. A newcomer holds nothing, so the others cannot count it: when nothing is free it
//! takes one Lease from the pod holding the most (only from one over the target), which then
//! counts it and gives up its excess on its own.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash, Hasher};

/// A shard's Lease as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub shard: String,
    /// `spec.holderIdentity`; None when the Lease was released.
    pub holder: Option<String>,
    /// Renewed within its duration.
    pub live: bool,
    /// Its checkpoint is the shard's end.
    pub finished: bool,
}

impl Seen {
    /// The pod reading the shard now, if any.
    fn live_holder(&self) -> Option<&str> {
        self.holder
            .as_deref()
            .filter(|h| self.live && !h.is_empty())
    }
}

/// What one balance round does.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Readable shards this pod should hold.
    pub target: usize,
    /// Free, expired or missing Leases, in the order to try them.
    pub claim: Vec<String>,
    /// How many of `claim` to win.
    pub want: usize,
    /// A shard to take from the busiest pod when nothing is free.
    pub steal: Option<String>,
    /// Held shards to give up: beyond the target, or finished.
    pub release: Vec<String>,
}

/// Shards per reader: every readable shard has a reader and none holds more than one more
/// than another.
pub fn target(readable: usize, readers: usize) -> usize {
    readable.div_ceil(readers.max(1))
}

/// The round of pod `me`, which holds `held`, given the listed Leases.
pub fn plan(readable: &[String], leases: &[Seen], me: &str, held: &BTreeSet<String>) -> Plan {
    let by_shard: BTreeMap<&str, &Seen> = leases.iter().map(|s| (s.shard.as_str(), s)).collect();
    let mut readers: BTreeSet<&str> = leases.iter().filter_map(Seen::live_holder).collect();
    readers.insert(me);
    let target = target(readable.len(), readers.len());

    let readable_set: BTreeSet<&str> = readable.iter().map(String::as_str).collect();
    let mine: Vec<&str> = held
        .iter()
        .map(String::as_str)
        .filter(|s| readable_set.contains(s))
        .collect();
    let mut release: Vec<String> = mine.iter().skip(target).map(|s| (*s).to_owned()).collect();
    // A finished shard's end is committed: nothing is left to read or to commit.
    release.extend(
        held.iter()
            .filter(|s| !readable_set.contains(s.as_str()))
            .filter(|s| by_shard.get(s.as_str()).is_some_and(|l| l.finished))
            .cloned(),
    );

    let want = target.saturating_sub(mine.len());
    let mut claim: Vec<String> = readable
        .iter()
        .filter(|s| !held.contains(*s))
        .filter(|s| match by_shard.get(s.as_str()) {
            None => true,
            // Held by this pod's name but not by this process: a restart of the same pod.
            Some(l) => l.live_holder().is_none_or(|h| h == me),
        })
        .cloned()
        .collect();
    // Pods try the free shards in different orders, so starting together they collide less.
    claim.sort_by_key(|s| spread(me, s));

    let steal = (want > claim.len())
        .then(|| busiest_share(readable, &by_shard, me, target))
        .flatten();
    Plan {
        target,
        claim,
        want,
        steal,
        release,
    }
}

/// A readable shard of the pod holding the most of them, if that is more than the target.
fn busiest_share(
    readable: &[String],
    by_shard: &BTreeMap<&str, &Seen>,
    me: &str,
    target: usize,
) -> Option<String> {
    let mut counts: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for shard in readable {
        if let Some(h) = by_shard.get(shard.as_str()).and_then(|l| l.live_holder())
            && h != me
        {
            counts.entry(h).or_default().push(shard);
        }
    }
    let (_, shards) = counts
        .into_iter()
        .filter(|(_, shards)| shards.len() > target)
        .max_by_key(|(holder, shards)| (shards.len(), *holder))?;
    shards
        .into_iter()
        .min_by_key(|s| spread(me, s))
        .map(str::to_owned)
}

fn spread(me: &str, shard: &str) -> u64 {
    let mut h = DefaultHasher::new();
    (me, shard).hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shards(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("shardId-{i:012}")).collect()
    }

    fn seen(shard: &str, holder: Option<&str>, live: bool) -> Seen {
        Seen {
            shard: shard.to_owned(),
            holder: holder.map(str::to_owned),
            live,
            finished: false,
        }
    }

    fn set(items: &[&String]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).clone()).collect()
    }

    #[test]
    fn the_target_rounds_up() {
        assert_eq!(target(4, 1), 4);
        assert_eq!(target(4, 2), 2);
        assert_eq!(target(4, 3), 2);
        assert_eq!(target(5, 2), 3);
        assert_eq!(target(1, 4), 1);
        assert_eq!(target(0, 3), 0);
        assert_eq!(target(3, 0), 3, "never a division by zero");
    }

    #[test]
    fn a_first_pod_claims_every_missing_lease() {
        let readable = shards(4);
        let p = plan(&readable, &[], "a", &BTreeSet::new());
        assert_eq!((p.target, p.want), (4, 4));
        let mut claim = p.claim.clone();
        claim.sort();
        assert_eq!(claim, readable);
        assert!(p.release.is_empty() && p.steal.is_none());
    }

    #[test]
    fn free_and_expired_leases_are_claimed_live_ones_are_not() {
        let r = shards(4);
        let leases = [
            seen(&r[0], Some("b"), true),
            seen(&r[1], Some("b"), false),
            seen(&r[2], None, true),
            seen(&r[3], Some(""), true),
        ];
        let p = plan(&r, &leases, "a", &BTreeSet::new());
        // Readers a and b: two each.
        assert_eq!((p.target, p.want), (2, 2));
        let mut claim = p.claim.clone();
        claim.sort();
        assert_eq!(claim, [r[1].clone(), r[2].clone(), r[3].clone()]);
        assert_eq!(p.steal, None, "enough is free");
    }

    #[test]
    fn a_dead_pods_leases_all_go_to_the_survivor() {
        let r = shards(4);
        let leases = [
            seen(&r[0], Some("a"), true),
            seen(&r[1], Some("a"), true),
            seen(&r[2], Some("b"), false),
            seen(&r[3], Some("b"), false),
        ];
        let p = plan(&r, &leases, "a", &set(&[&r[0], &r[1]]));
        assert_eq!((p.target, p.want), (4, 2));
        let mut claim = p.claim.clone();
        claim.sort();
        assert_eq!(claim, [r[2].clone(), r[3].clone()]);
    }

    #[test]
    fn a_pod_over_its_target_releases_the_excess() {
        let r = shards(4);
        let leases = [
            seen(&r[0], Some("a"), true),
            seen(&r[1], Some("a"), true),
            seen(&r[2], Some("a"), true),
            seen(&r[3], Some("b"), true),
        ];
        let p = plan(&r, &leases, "a", &set(&[&r[0], &r[1], &r[2]]));
        assert_eq!(p.target, 2);
        assert_eq!(p.release, [r[2].clone()]);
        assert_eq!(p.want, 0);
        assert!(p.claim.is_empty() && p.steal.is_none());
    }

    #[test]
    fn a_newcomer_takes_one_from_the_busiest_pod_when_nothing_is_free() {
        let r = shards(4);
        let all_a: Vec<Seen> = r.iter().map(|s| seen(s, Some("a"), true)).collect();
        let p = plan(&r, &all_a, "b", &BTreeSet::new());
        assert_eq!((p.target, p.want), (2, 2));
        assert!(p.claim.is_empty());
        let stolen = p.steal.expect("one taken from a");
        assert!(r.contains(&stolen));

        // Once the newcomer holds one, the other pod counts it and gives up its excess.
        let mut leases = all_a.clone();
        let i = r.iter().position(|s| *s == stolen).expect("listed");
        leases[i].holder = Some("b".to_owned());
        let held_by_a: BTreeSet<String> = r.iter().filter(|s| **s != stolen).cloned().collect();
        let p = plan(&r, &leases, "a", &held_by_a);
        assert_eq!(p.target, 2);
        assert_eq!(p.release.len(), 1);
    }

    #[test]
    fn nothing_is_taken_from_a_pod_at_its_target() {
        // Four shards, three pods: 2, 1, 1 is balanced; the pods with one do not take more.
        let r = shards(4);
        let leases = [
            seen(&r[0], Some("a"), true),
            seen(&r[1], Some("a"), true),
            seen(&r[2], Some("b"), true),
            seen(&r[3], Some("c"), true),
        ];
        let p = plan(&r, &leases, "c", &set(&[&r[3]]));
        assert_eq!((p.target, p.want), (2, 1));
        assert!(p.claim.is_empty());
        assert_eq!(p.steal, None);
        assert!(p.release.is_empty());
    }

    #[test]
    fn a_lease_of_the_same_pod_name_from_an_earlier_process_is_claimed() {
        let r = shards(1);
        let leases = [seen(&r[0], Some("a"), true)];
        let p = plan(&r, &leases, "a", &BTreeSet::new());
        assert_eq!(p.claim, r);
    }

    #[test]
    fn finished_shards_are_released_unfinished_unreadable_ones_kept() {
        let r = shards(3);
        let mut done = seen(&r[0], Some("a"), true);
        done.finished = true;
        // r[1] was read to its end here, its end not yet committed: not readable, still held.
        let leases = [done, seen(&r[1], Some("a"), true), seen(&r[2], None, true)];
        let readable = vec![r[2].clone()];
        let p = plan(&readable, &leases, "a", &set(&[&r[0], &r[1]]));
        assert_eq!(p.release, [r[0].clone()]);
        assert_eq!((p.target, p.want), (1, 1));
        assert_eq!(p.claim, [r[2].clone()]);
    }
}
