use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_domain::backoff::Backoff;
use switchboard_runner::registry::BoxFuture;
use switchboard_runner::{JobContext, JobError, JobHandler, Registry, Runner, RunnerSettings};
use switchboard_store::models::{IntegrationJob, now};
use switchboard_store::repo::jobs;
use switchboard_store::testing::TestDb;

use crate::support::{count_status, enqueue, eventually, job};

/// Counts how many times each job ran.
#[derive(Clone, Default)]
struct Counting(Arc<Mutex<HashMap<String, usize>>>);

impl JobHandler for Counting {
    fn run<'a>(
        &'a self,
        _ctx: &'a JobContext,
        job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            *self.0.lock().unwrap().entry(job.id.clone()).or_default() += 1;
            Ok(())
        })
    }
}

struct Failing;
impl JobHandler for Failing {
    fn run<'a>(
        &'a self,
        _ctx: &'a JobContext,
        _job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async { Err(JobError::retry("the other side is down")) })
    }
}

struct Refusing;
impl JobHandler for Refusing {
    fn run<'a>(
        &'a self,
        _ctx: &'a JobContext,
        _job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async { Err(JobError::permanent("this can never work")) })
    }
}

struct Panicking;
impl JobHandler for Panicking {
    fn run<'a>(
        &'a self,
        _ctx: &'a JobContext,
        _job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async { panic!("boom in a handler") })
    }
}

struct Slow;
impl JobHandler for Slow {
    fn run<'a>(
        &'a self,
        _ctx: &'a JobContext,
        _job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        })
    }
}

fn fast_settings() -> RunnerSettings {
    RunnerSettings {
        concurrency: 16,
        claim_batch: 64,
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(5),
        backoff: Backoff::new(Duration::from_millis(20), Duration::from_millis(40)),
        ..RunnerSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_runners_run_every_job_exactly_once() {
    for t in TestDb::all() {
        let ids = enqueue(&t, "COUNT", 600, 5);
        let counter = Counting::default();
        // Four runners on one queue: on PostgreSQL this is what several processes do.
        let runners: Vec<_> = (0..4)
            .map(|_| {
                let registry = Registry::new().register("COUNT", counter.clone());
                Runner::new(t.db.clone(), registry, fast_settings())
                    .spawn()
                    .unwrap()
            })
            .collect();
        eventually(Duration::from_secs(60), "every job is DONE", || {
            count_status(&t, "DONE") == ids.len()
        })
        .await;
        for runner in runners {
            runner.shutdown().await;
        }
        let runs = counter.0.lock().unwrap();
        assert_eq!(runs.len(), ids.len(), "{}", t.backend);
        assert!(
            runs.values().all(|&n| n == 1),
            "a job ran twice on {}",
            t.backend
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retryable_failure_backs_off_then_dead_letters_at_max_attempts() {
    for t in TestDb::all() {
        let ids = enqueue(&t, "FAIL", 1, 3);
        let runner = Runner::new(
            t.db.clone(),
            Registry::new().register("FAIL", Failing),
            fast_settings(),
        )
        .spawn()
        .unwrap();
        eventually(Duration::from_secs(20), "the job is dead-lettered", || {
            job(&t, &ids[0]).status == "DEAD"
        })
        .await;
        runner.shutdown().await;
        let dead = job(&t, &ids[0]);
        assert_eq!(dead.attempts, 3, "{}", t.backend);
        let error = dead.last_error.unwrap();
        assert!(
            error.contains("gave up after 3 attempts") && error.contains("the other side is down"),
            "{error}"
        );
        assert!(dead.finished_at.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_is_scheduled_in_the_future_with_the_error_kept() {
    let t = TestDb::sqlite();
    let ids = enqueue(&t, "FAIL", 1, 10);
    let settings = RunnerSettings {
        backoff: Backoff::new(Duration::from_secs(60), Duration::from_secs(600)),
        ..fast_settings()
    };
    let runner = Runner::new(
        t.db.clone(),
        Registry::new().register("FAIL", Failing),
        settings,
    )
    .spawn()
    .unwrap();
    eventually(Duration::from_secs(10), "the first attempt failed", || {
        job(&t, &ids[0]).attempts == 1 && job(&t, &ids[0]).status == "PENDING"
    })
    .await;
    runner.shutdown().await;
    let waiting = job(&t, &ids[0]);
    let delay = waiting.run_at - now();
    assert!(
        delay > chrono::TimeDelta::seconds(25) && delay <= chrono::TimeDelta::seconds(60),
        "{delay}"
    );
    assert_eq!(
        waiting.last_error.as_deref(),
        Some("the other side is down")
    );
    assert_eq!(waiting.lease_owner, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_error_or_an_unknown_kind_dead_letters_at_once() {
    for t in TestDb::all() {
        let refused = enqueue(&t, "REFUSE", 1, 10);
        let unknown = enqueue(&t, "NO_SUCH_KIND", 1, 10);
        let runner = Runner::new(
            t.db.clone(),
            Registry::new().register("REFUSE", Refusing),
            fast_settings(),
        )
        .spawn()
        .unwrap();
        eventually(Duration::from_secs(10), "both are dead", || {
            job(&t, &refused[0]).status == "DEAD" && job(&t, &unknown[0]).status == "DEAD"
        })
        .await;
        runner.shutdown().await;
        assert_eq!(job(&t, &refused[0]).attempts, 1, "{}", t.backend);
        assert!(
            job(&t, &unknown[0])
                .last_error
                .unwrap()
                .contains("no handler for job kind NO_SUCH_KIND")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_a_retryable_failure_and_the_loop_goes_on() {
    let t = TestDb::sqlite();
    let panics = enqueue(&t, "PANIC", 1, 2);
    let fine = enqueue(&t, "COUNT", 50, 5);
    let counter = Counting::default();
    let registry = Registry::new()
        .register("PANIC", Panicking)
        .register("COUNT", counter.clone());
    let runner = Runner::new(t.db.clone(), registry, fast_settings())
        .spawn()
        .unwrap();
    eventually(
        Duration::from_secs(20),
        "the rest ran and the panicking job died",
        || count_status(&t, "DONE") == fine.len() && job(&t, &panics[0]).status == "DEAD",
    )
    .await;
    runner.shutdown().await;
    let dead = job(&t, &panics[0]);
    assert_eq!(dead.attempts, 2);
    assert!(
        dead.last_error
            .unwrap()
            .contains("panicked: boom in a handler")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_hands_back_jobs_that_outlive_the_grace_period() {
    for t in TestDb::all() {
        let ids = enqueue(&t, "SLOW", 3, 5);
        let settings = RunnerSettings {
            shutdown_grace: Duration::from_millis(300),
            ..fast_settings()
        };
        let runner = Runner::new(
            t.db.clone(),
            Registry::new().register("SLOW", Slow),
            settings,
        )
        .spawn()
        .unwrap();
        eventually(Duration::from_secs(10), "all three run", || {
            count_status(&t, "RUNNING") == 3
        })
        .await;
        runner.shutdown().await;
        for id in &ids {
            let back = job(&t, id);
            assert_eq!(back.status, "PENDING", "{}", t.backend);
            assert_eq!(back.lease_owner, None);
            assert_eq!(back.attempts, 0, "the interrupted attempt is not counted");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_of_a_runner_that_died_are_recovered_when_their_lease_expires() {
    for t in TestDb::all() {
        let ids = enqueue(&t, "COUNT", 2, 1);
        let at = now();
        {
            let mut conn = t.db.conn().unwrap();
            // A runner claimed both, then vanished: its lease ran out a second ago.
            let claimed = jobs::claim_due_jobs(
                &mut conn,
                "dead-runner",
                10,
                at,
                at - chrono::TimeDelta::seconds(1),
            )
            .unwrap();
            assert_eq!(claimed.len(), 2);
            assert!(
                claimed
                    .iter()
                    .all(|j| j.attempts == 1 && j.status == "RUNNING")
            );
            assert!(
                jobs::claim_due_jobs(&mut conn, "other", 10, at, at)
                    .unwrap()
                    .is_empty(),
                "RUNNING jobs are not claimed again"
            );
            // One of them has attempts left only if max_attempts allows: give the first one more.
            diesel::RunQueryDsl::execute(
                diesel::update(switchboard_store::schema::integration_jobs::table.find(&ids[0]))
                    .set(switchboard_store::schema::integration_jobs::max_attempts.eq(3)),
                &mut *conn,
            )
            .unwrap();
            let (requeued, dead) = jobs::recover_expired_leases(&mut conn, now()).unwrap();
            assert_eq!((requeued, dead), (1, 1), "{}", t.backend);
        }
        assert_eq!(job(&t, &ids[0]).status, "PENDING");
        assert_eq!(job(&t, &ids[1]).status, "DEAD");
        let counter = Counting::default();
        let runner = Runner::new(
            t.db.clone(),
            Registry::new().register("COUNT", counter.clone()),
            fast_settings(),
        )
        .spawn()
        .unwrap();
        eventually(Duration::from_secs(10), "the recovered job ran", || {
            job(&t, &ids[0]).status == "DONE"
        })
        .await;
        runner.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_job_can_be_retried_by_an_operator_and_finished_jobs_pruned() {
    let t = TestDb::sqlite();
    let ids = enqueue(&t, "REFUSE", 1, 3);
    let runner = Runner::new(
        t.db.clone(),
        Registry::new().register("REFUSE", Refusing),
        fast_settings(),
    )
    .spawn()
    .unwrap();
    eventually(Duration::from_secs(10), "dead", || {
        job(&t, &ids[0]).status == "DEAD"
    })
    .await;
    runner.shutdown().await;
    let mut conn = t.db.conn().unwrap();
    let again = jobs::retry_dead_job(&mut conn, &ids[0], now()).unwrap();
    assert_eq!((again.status.as_str(), again.attempts), ("PENDING", 0));
    assert!(
        jobs::retry_dead_job(&mut conn, &ids[0], now()).is_err(),
        "only DEAD jobs can be retried"
    );
    let done = enqueue(&t, "COUNT", 3, 1);
    let at = now();
    jobs::claim_due_jobs(&mut conn, "me", 10, at, at + chrono::TimeDelta::seconds(60)).unwrap();
    jobs::complete_jobs(&mut conn, "me", &done, at).unwrap();
    assert_eq!(
        jobs::prune_finished_jobs(&mut conn, at + chrono::TimeDelta::seconds(1)).unwrap(),
        3
    );
    assert!(
        jobs::find_job(&mut conn, &ids[0]).unwrap().is_some(),
        "unfinished jobs are never pruned"
    );
}

use diesel::{ExpressionMethods, QueryDsl};
