//! Acknowledged means durable in a cluster too. Two streams of three pods, one with its logs on
//! claims (a StatefulSet), one on `emptyDir` volumes (a Deployment), take producer load while
//! their destination is down, through four disruptions in turn: every pod deleted, every pod
//! evicted (the Eviction API, as `kubectl drain` calls it, under the stream's budget), a spec
//! change that rolls every pod, and a scale from 3 to 1. Then the destination comes up. The
//! stream on claims delivers every acknowledged record (its scaled-away claims through drain
//! Jobs, which the operator then deletes with the claims); the stream on `emptyDir` loses what
//! the pods deleted, evicted or scaled away held, and — its rollout held by the operator while
//! delivery fails — nothing to the roll. Each record names its stream and disruption, so the
//! counts are per disruption. Storage: hostPath PersistentVolumes the test creates (the node has
//! no provisioner), bound by a StorageClass name of their own.

mod durability_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use durability_support::*;
use harness::cluster;
use harness::moto::Moto;
use harness::node::{Images, Node};
use harness::operator_env::eventually;

/// The disruptions, in the order they happen; records put before each carry its name.
const PHASES: [&str; 4] = ["delete", "evict", "roll", "scale"];

#[tokio::test(flavor = "multi_thread")]
async fn claims_lose_nothing_through_deletions_evictions_rolls_and_scale_downs() {
    let images = Images::build();
    let node = Node::start(&[
        images.archive("hydrant"),
        images.archive("hydrant-operator"),
    ]);
    let client = node.client().await;
    cluster::helm_install(&node, &client, "hydrant-system").await;
    cluster::restricted_namespace(&node, NS);
    cluster::secret(
        &node,
        NS,
        "s3-writer",
        &[
            "--from-literal=accessKeyId=test".to_owned(),
            "--from-literal=secretAccessKey=test".to_owned(),
        ],
    );
    static_volumes(&node, REPLICAS);
    // The destination's address, where nothing listens until the end.
    let port = harness::free_port();
    for (name, storage) in STREAMS {
        cluster::apply(
            &node,
            &format!("{name}.yaml"),
            &manifest(name, storage, &node.ip, port),
        );
    }
    let mut endpoints = BTreeMap::new();
    for (name, _) in STREAMS {
        let (endpoint, took) =
            cluster::active_endpoint(&client, NS, name, Duration::from_secs(180)).await;
        eprintln!("{name} ACTIVE after {:.1} s", took.as_secs_f64());
        endpoints.insert(name, endpoint);
    }
    let mut acked: BTreeMap<(&str, &str), BTreeSet<String>> = BTreeMap::new();
    let mut put_phase = |phase: &'static str| {
        for (name, _) in STREAMS {
            acked.insert((name, phase), put(&node, &endpoints[name], name, phase));
        }
    };

    put_phase("delete");
    let before = uids_of_both(&client).await;
    for (name, _) in STREAMS {
        // Two seconds to drain with the destination down: killed with everything it holds.
        node.kubectl_ok(&[
            "-n",
            NS,
            "delete",
            "pod",
            "-l",
            &format!("app.kubernetes.io/instance={name}"),
            "--grace-period=2",
        ]);
    }
    for (name, _) in STREAMS {
        replaced_and_ready(&client, name, &before[name], REPLICAS).await;
    }
    eprintln!("delete: every pod of both streams deleted and replaced");

    put_phase("evict");
    let before = uids_of_both(&client).await;
    for (name, _) in STREAMS {
        let took = evict_every_pod(&client, name).await;
        eprintln!("evict: {name}'s pods evicted one at a time in {took:.0} s");
    }
    for (name, _) in STREAMS {
        replaced_and_ready(&client, name, &before[name], REPLICAS).await;
    }

    put_phase("roll");
    // The pods have tried their destination and failed, so the operator knows delivery fails.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = uids_of_both(&client).await;
    for (name, _) in STREAMS {
        node.kubectl_ok(&[
            "-n",
            NS,
            "patch",
            "dstream",
            name,
            "--type=merge",
            "-p",
            r#"{"spec":{"template":{"metadata":{"annotations":{"hydrant.dev/test-roll":"1"}}}}}"#,
        ]);
    }
    replaced_and_ready(&client, "durable", &before["durable"], REPLICAS).await;
    eprintln!("roll: every pod of durable replaced by the StatefulSet's rolling update");
    let held = rollout_held(&client, "volatile").await;
    assert_eq!(
        pod_uids(&client, "volatile").await,
        before["volatile"],
        "no pod on emptyDir is replaced while delivery fails"
    );
    eprintln!("roll: volatile's rollout held: {held}");

    put_phase("scale");
    for (name, _) in STREAMS {
        node.kubectl_ok(&["-n", NS, "scale", "dstream", name, "--replicas=1"]);
    }
    let drains = drains_under_way(&client, "durable", &["wal-durable-1", "wal-durable-2"]).await;
    eprintln!("scale: durable at 1 pod, drains {drains:?}");
    eventually(
        "volatile scaled to one pod",
        Duration::from_secs(120),
        || async { (pod_uids(&client, "volatile").await.len() == 1).then_some(()) },
    )
    .await;

    let started = Instant::now();
    let moto = Moto::start_in_netns_on(&node.netns, &node.reach_ip(), port).await;
    moto.create_bucket(BUCKET).await;
    let all_durable: BTreeSet<String> = PHASES
        .iter()
        .flat_map(|p| acked[&("durable", *p)].iter().cloned())
        .collect();
    eventually(
        "the durable stream's acknowledged records delivered",
        Duration::from_secs(240),
        || async {
            let got: BTreeSet<String> = delivered(&moto, "durable/").await.into_iter().collect();
            all_durable.is_subset(&got).then_some(())
        },
    )
    .await;
    eprintln!(
        "durable: every acknowledged record delivered {:.0} s after the destination came up",
        started.elapsed().as_secs_f64()
    );
    let drained = claims_drained(
        &node,
        &client,
        "durable",
        &["wal-durable-1", "wal-durable-2"],
    )
    .await;
    eprintln!("durable: {drained}");
    volatile_rollout_finishes(&client).await;
    backlog_empty(&client, "volatile").await;

    let mut lost_on_claims = 0;
    for (name, _) in STREAMS {
        let got = delivered(&moto, &format!("{name}/")).await;
        for phase in PHASES {
            let sent = &acked[&(name, phase)];
            let tag = format!("{name}-{phase}-");
            let copies: Vec<&String> = got.iter().filter(|id| id.starts_with(&tag)).collect();
            let unique: BTreeSet<&String> = copies.iter().copied().collect();
            let lost = sent.iter().filter(|id| !unique.contains(id)).count();
            eprintln!(
                "{name} ({}), {phase}: {} acknowledged, {} delivered, {lost} lost, {} duplicates",
                if name == "durable" {
                    "claims"
                } else {
                    "emptyDir"
                },
                sent.len(),
                unique.len(),
                copies.len() - unique.len()
            );
            if name == "durable" {
                lost_on_claims += lost;
            }
        }
    }
    assert_eq!(lost_on_claims, 0, "nothing acknowledged on claims is lost");
    let volatile = delivered(&moto, "volatile/").await;
    let count = |phase: &str| {
        let tag = format!("volatile-{phase}-");
        volatile.iter().filter(|id| id.starts_with(&tag)).count()
    };
    assert_eq!(
        (count("delete"), count("evict")),
        (0, 0),
        "pods on emptyDir deleted or evicted before they drained take their logs with them"
    );
    // The held rollout replaced no pod (asserted above), so it lost nothing; what the `roll`
    // and `scale` records of the volatile stream lose is what the two pods the scale-down removed
    // held — all or none of a phase, as one producer's connection lands on one pod.
    eprintln!(
        "volatile: the roll replaced no pod while delivery failed; the scale-down's two removed pods took {} of the roll's and {} of the scale's records",
        RECORDS - count("roll"),
        RECORDS - count("scale")
    );

    // Deleting a stream on claims waits until its last claim is drained and deleted.
    let started = Instant::now();
    node.kubectl_ok(&["-n", NS, "delete", "dstream", "durable", "--wait=false"]);
    stream_gone_with_its_claims(&client, "durable").await;
    eprintln!(
        "delete: durable gone, with its last claim drained and deleted, {:.0} s after kubectl delete",
        started.elapsed().as_secs_f64()
    );
}
