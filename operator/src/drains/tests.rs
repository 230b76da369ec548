use super::*;

fn claim(ordinal: u32) -> ClaimSeen {
    ClaimSeen {
        name: drain_job::claim_name("s", ordinal),
        ordinal,
        uid: Some(format!("uid-{ordinal}")),
        deleting: false,
    }
}

fn job(ordinal: u32, succeeded: bool, failed: bool) -> JobSeen {
    JobSeen {
        name: drain_job::name("s", ordinal),
        claim: drain_job::claim_name("s", ordinal),
        succeeded,
        failed,
        created: Some("2026-12-01T00:00:00Z".to_owned()),
    }
}

fn phases(report: &[DrainStatus]) -> Vec<(String, String)> {
    report
        .iter()
        .map(|d| (d.claim.clone(), d.phase.clone()))
        .collect()
}

#[test]
fn claims_of_ordinals_in_use_are_left_alone() {
    let seen = Seen {
        claims: vec![claim(0), claim(1)],
        ..Seen::default()
    };
    let (steps, report) = plan("s", &seen, 2);
    assert!(steps.is_empty());
    assert!(report.is_empty());
}

#[test]
fn a_claim_left_by_a_scale_down_gets_a_job_once_its_pod_is_gone() {
    let mut seen = Seen {
        claims: vec![claim(0), claim(1), claim(2)],
        mounted: BTreeSet::from(["wal-s-0".to_owned(), "wal-s-2".to_owned()]),
        ..Seen::default()
    };
    let (steps, report) = plan("s", &seen, 1);
    assert_eq!(steps, [Step::Start(1)]);
    assert_eq!(
        phases(&report),
        [
            ("wal-s-1".to_owned(), "Running".to_owned()),
            ("wal-s-2".to_owned(), "WaitingForPod".to_owned())
        ]
    );
    assert_eq!(report[0].job.as_deref(), Some("s-drain-1"));
    // Pod 2 has finished terminating; job 1 runs.
    seen.mounted.remove("wal-s-2");
    seen.jobs.push(job(1, false, false));
    let (steps, report) = plan("s", &seen, 1);
    assert_eq!(steps, [Step::Start(2)]);
    assert_eq!(report.len(), 2);
}

#[test]
fn the_claim_is_deleted_only_after_its_job_succeeds_and_then_the_job_goes() {
    let mut seen = Seen {
        claims: vec![claim(0), claim(1)],
        jobs: vec![job(1, true, false)],
        ..Seen::default()
    };
    let (steps, report) = plan("s", &seen, 1);
    assert_eq!(
        steps,
        [Step::DeleteClaim {
            claim: "wal-s-1".to_owned(),
            uid: Some("uid-1".to_owned())
        }]
    );
    assert_eq!(
        phases(&report),
        [("wal-s-1".to_owned(), "Succeeded".to_owned())]
    );
    // The claim is being deleted, then gone: the Job is removed, nothing is reported.
    seen.claims[1].deleting = true;
    let (steps, report) = plan("s", &seen, 1);
    assert_eq!(
        steps,
        [Step::RemoveJob {
            job: "s-drain-1".to_owned(),
            taken_over: false
        }]
    );
    assert!(report.is_empty());
}

#[test]
fn a_failed_job_is_reported_and_its_claim_kept() {
    let seen = Seen {
        claims: vec![claim(3)],
        jobs: vec![job(3, false, true)],
        ..Seen::default()
    };
    let (steps, report) = plan("s", &seen, 0);
    assert!(steps.is_empty());
    assert_eq!(
        phases(&report),
        [("wal-s-3".to_owned(), "Failed".to_owned())]
    );
}

#[test]
fn a_scale_up_takes_the_claim_back_from_its_job() {
    let seen = Seen {
        claims: vec![claim(0), claim(1)],
        mounted: BTreeSet::from(["wal-s-0".to_owned(), "wal-s-1".to_owned()]),
        jobs: vec![job(1, false, false)],
    };
    let (steps, report) = plan("s", &seen, 2);
    assert_eq!(
        steps,
        [Step::RemoveJob {
            job: "s-drain-1".to_owned(),
            taken_over: true
        }]
    );
    assert!(report.is_empty());
}

#[test]
fn a_deleted_stream_drains_every_claim() {
    let seen = Seen {
        claims: vec![claim(0), claim(1), claim(2)],
        ..Seen::default()
    };
    let (steps, _) = plan("s", &seen, 0);
    assert_eq!(steps, [Step::Start(0), Step::Start(1), Step::Start(2)]);
}
