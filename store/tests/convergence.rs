//! Property tests on both backends (a real PostgreSQL database, a SQLite file): whatever the
//! order, duplication and batching of a run's events, its row ends in the same state, and the
//! rollups equal the figures recomputed from the raw rows.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use tasklens_model::TaskTypeFilter;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Backend, Life, Store, all_runs, base_time, on_both_backends, store};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use tasklens_model::{
    Contribution, RollupFigures, RunKey, RunState, TaskRunEvent, TaskStatus, TaskType,
};
use tasklens_store::{HistoryQuery, StoredRun, TimeseriesQuery, figures};

const TASKS: [&str; 3] = [
    "score_message",
    "embed_atoms_batch",
    "scheduled_daily_digest",
];

#[derive(Debug, Clone)]
struct RunPlan {
    task: usize,
    attempt: i32,
    /// Seconds after the scenario's start (spread over three days).
    offset_secs: i64,
    duration_ms: i64,
    fails: bool,
    /// Which of pending, running, finished the sources report.
    reported: [bool; 3],
    copies: usize,
}

#[derive(Debug, Clone)]
struct Scenario {
    runs: Vec<RunPlan>,
    /// Permutation seed of the events, and batch sizes.
    order: Vec<usize>,
    batch_sizes: Vec<usize>,
}

fn run_plan() -> impl Strategy<Value = RunPlan> {
    (
        0..TASKS.len(),
        0..2i32,
        0..3 * 86_400i64,
        0..120_000i64,
        proptest::bool::weighted(0.3),
        any::<[bool; 3]>(),
        1..4usize,
    )
        .prop_map(
            |(task, attempt, offset_secs, duration_ms, fails, reported, copies)| RunPlan {
                task,
                attempt,
                offset_secs,
                duration_ms,
                fails,
                reported: if reported == [false; 3] {
                    [true; 3]
                } else {
                    reported
                },
                copies,
            },
        )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    proptest::collection::vec(run_plan(), 1..12).prop_flat_map(|runs| {
        let events: usize = runs.iter().map(|r| r.copies * 3).sum();
        (
            Just(runs),
            Just((0..events).collect::<Vec<_>>()).prop_shuffle(),
            proptest::collection::vec(1..6usize, 1..events + 1),
        )
            .prop_map(|(runs, order, batch_sizes)| Scenario {
                runs,
                order,
                batch_sizes,
            })
    })
}

/// The events of a scenario, with the final state each run must reach.
fn events_of(
    case: usize,
    scenario: &Scenario,
    start: DateTime<Utc>,
) -> (Vec<TaskRunEvent>, HashMap<RunKey, RunState>) {
    let mut events = Vec::new();
    let mut expected: HashMap<RunKey, RunState> = HashMap::new();
    for (i, plan) in scenario.runs.iter().enumerate() {
        // Runs 2k and 2k+1 share a task id: with different attempts they are retries.
        let mut life = Life::new(
            &format!("case{case}-task{}", i / 2),
            TASKS[plan.task],
            start + TimeDelta::seconds(plan.offset_secs),
        );
        life.key.attempt = plan.attempt;
        life.duration_ms = plan.duration_ms;
        life.failure = plan.fails.then(|| format!("failure {i}"));
        let reports = [life.pending(), life.running(), life.finished()];
        for (report, reported) in reports.into_iter().zip(plan.reported) {
            if !reported {
                continue;
            }
            let prepared = report.clone().prepare().expect("valid event");
            let key = prepared.run.key();
            let state = match expected.remove(&key) {
                Some(state) => state.merge(prepared.run),
                None => prepared.run,
            };
            expected.insert(key, state);
            for _ in 0..plan.copies {
                events.push(report.clone());
            }
        }
    }
    (events, expected)
}

/// Writes the events in the scenario's order and batches, alternating two concurrent writers.
async fn write_scrambled(store: &Store, scenario: &Scenario, events: Vec<TaskRunEvent>) {
    let mut ordered: Vec<TaskRunEvent> = scenario
        .order
        .iter()
        .filter_map(|&i| events.get(i).cloned())
        .collect();
    let mut batches: [Vec<Vec<TaskRunEvent>>; 2] = [Vec::new(), Vec::new()];
    let mut sizes = scenario.batch_sizes.iter().cycle();
    let mut writer = 0;
    while !ordered.is_empty() {
        let size = (*sizes.next().expect("cycle")).min(ordered.len());
        batches[writer].push(ordered.drain(..size).collect());
        writer = 1 - writer;
    }
    let [first, second] = batches;
    let write_all = |batches: Vec<Vec<TaskRunEvent>>| {
        let store = store.clone();
        async move {
            for batch in batches {
                let outcome = store.write_batch(batch).await.expect("write");
                assert!(outcome.rejected.is_empty());
            }
        }
    };
    tokio::join!(write_all(first), write_all(second));
}

/// Figures per task type recomputed from raw rows created at or after `since`.
fn raw_figures(runs: &[StoredRun], since: DateTime<Utc>) -> BTreeMap<TaskType, RollupFigures> {
    let mut by_task: BTreeMap<TaskType, RollupFigures> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.created_at >= since) {
        by_task
            .entry(TaskType::of(&run.state))
            .or_default()
            .apply(&Contribution::of(&run.state), 1);
    }
    by_task
}

/// One case: writes the scenario's events scrambled, then checks its rows and the whole
/// store's rollups. Each case (shrinking included) has task ids of its own.
async fn check_case(store: &Store, case: usize, scenario: &Scenario) {
    let now = base_time() + TimeDelta::days(3);
    let start = base_time();
    let (events, expected) = events_of(case, scenario, start);
    write_scrambled(store, scenario, events).await;

    let runs = all_runs(store).await;
    let prefix = format!("case{case}-");
    let mine: Vec<&StoredRun> = runs
        .iter()
        .filter(|run| run.state.task_id.starts_with(&prefix))
        .collect();
    assert_eq!(mine.len(), expected.len(), "one row per run, no duplicates");
    for run in mine {
        let expected = expected.get(&run.state.key()).expect("an expected run");
        assert_eq!(&run.state, expected, "run {}", run.state.key());
    }

    // Rollups (with raw edges) equal the raw figures, for aligned and unaligned windows.
    for since in [
        start - TimeDelta::days(1),
        start + TimeDelta::seconds(12_345),
        start + TimeDelta::days(1) + TimeDelta::minutes(61) + TimeDelta::seconds(7),
        now - TimeDelta::hours(24),
        now - TimeDelta::minutes(90),
    ] {
        let from_rollups = store
            .metrics(since, &TaskTypeFilter::default())
            .await
            .expect("metrics");
        let from_raw = figures::all_task_metrics(raw_figures(&runs, since));
        assert_eq!(from_rollups, from_raw, "metrics since {since}");
    }

    // History counts come from rollups too; check them against the rows.
    for task in [None, Some(TASKS[0])] {
        for status in [None, Some(TaskStatus::Failed), Some(TaskStatus::Success)] {
            let (from, to) = (
                start + TimeDelta::seconds(4_321),
                start + TimeDelta::days(2),
            );
            let page = store
                .history(&HistoryQuery {
                    task_name: task.map(str::to_owned),
                    status,
                    start: Some(from),
                    end: Some(to),
                    page_size: 1,
                    ..Default::default()
                })
                .await
                .expect("history");
            let expected = runs
                .iter()
                .filter(|r| r.created_at >= from && r.created_at < to)
                .filter(|r| task.is_none_or(|t| r.state.task_name == t))
                .filter(|r| status.is_none_or(|s| r.state.status == s))
                .count();
            assert_eq!(page.total_count, expected as i64, "{task:?} {status:?}");
        }
    }

    // Chart buckets add up to the runs of the window.
    let points = store
        .timeseries(&TimeseriesQuery {
            start: start - TimeDelta::days(1),
            end: Some(now + TimeDelta::days(1)),
            task_type: TaskTypeFilter::default(),
            granularity: None,
        })
        .await
        .expect("timeseries");
    let charted: i64 = points
        .iter()
        .map(|p| p.pending + p.running + p.success + p.failed)
        .sum();
    assert_eq!(charted, runs.len() as i64);

    // Error groups (shared by the cases: their messages normalise alike): each failed run of
    // the store counted once, in its group's total, its group rollups and its row's group.
    let groups = store
        .error_groups(start - TimeDelta::days(30), &Default::default())
        .await
        .expect("error groups");
    let failed = runs
        .iter()
        .filter(|r| r.state.status == TaskStatus::Failed)
        .count();
    assert_eq!(
        groups.iter().map(|g| g.group.total).sum::<i64>(),
        failed as i64
    );
    for summary in &groups {
        assert_eq!(summary.count, summary.group.total, "{summary:?}");
        let page = store
            .history(&HistoryQuery {
                error_group: Some(summary.group.id),
                page_size: 1,
                ..Default::default()
            })
            .await
            .expect("history");
        assert_eq!(page.total_count, summary.group.total, "{summary:?}");
    }
}

/// Runs the cases through proptest's runner: a failing scenario is shrunk to a small one, and
/// its seed is saved in `convergence.proptest-regressions` (replayed first on every later
/// run) and printed with the minimal scenario.
async fn rows_converge_and_rollups_match_raw_rows(backend: Backend) {
    let store = store(&backend, base_time() + TimeDelta::days(3)).await;
    let runtime = tokio::runtime::Handle::current();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut runner = TestRunner::new(Config {
            cases: 40,
            source_file: Some(file!()),
            failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
                "proptest-regressions",
            ))),
            ..Config::default()
        });
        let case = AtomicUsize::new(0);
        runner
            .run(&scenario(), |scenario| {
                let case = case.fetch_add(1, Ordering::Relaxed);
                runtime.block_on(check_case(&store, case, &scenario));
                Ok(())
            })
            .map_err(|failure| failure.to_string())
    })
    .await
    .expect("the property runner");
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

on_both_backends!(rows_converge_and_rollups_match_raw_rows);
