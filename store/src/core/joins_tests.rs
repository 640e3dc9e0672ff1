use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta};
use tasklens_model::{RunKey, RunState, SourceSystem, TaskRunEvent, TaskStatus};

use super::*;

fn span(n: u8) -> SpanRef {
    SpanRef {
        trace_id: [7; 16],
        span_id: [n; 8],
    }
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("valid") + TimeDelta::seconds(seconds)
}

fn event(source: SourceSystem, task_id: &str, attempt: i32, status: TaskStatus) -> TaskRunEvent {
    let key = RunKey {
        source,
        task_id: task_id.into(),
        attempt,
    };
    let mut run = RunState::new(key, "embed", status);
    if status != TaskStatus::Pending {
        run.started_at = Some(at(1));
    }
    if matches!(status, TaskStatus::Success | TaskStatus::Failed) {
        run.completed_at = Some(at(2));
    }
    if status == TaskStatus::Failed {
        run.error_message = Some("unavailable".into());
    } else {
        run.enqueued_at = Some(at(0));
    }
    TaskRunEvent {
        observed_at: at(3),
        run,
    }
}

fn joined(event: TaskRunEvent) -> JoinedEvent {
    JoinedEvent {
        event,
        keyed_by: None,
        run_at: None,
        retry_of: None,
    }
}

fn report(message: &str) -> ErrorReport {
    ErrorReport {
        message: Some(message.into()),
        error_type: Some("ValueError".into()),
        traceback: None,
    }
}

/// A TaskIQ producer at span 1 (task "m"), its run span at 2, an error logged in the run span,
/// a Celery run at 3 (task "c", attempt 0) and its retry's producer at 4: one batch each.
fn scenario() -> Vec<JoinBatch> {
    let producer = JoinedEvent {
        keyed_by: Some(KeyedBy {
            span: span(1),
            own: true,
        }),
        ..joined(event(SourceSystem::Taskiq, "m", 0, TaskStatus::Pending))
    };
    let run = JoinedEvent {
        keyed_by: Some(KeyedBy {
            span: span(1),
            own: false,
        }),
        run_at: Some(span(2)),
        ..joined(event(
            SourceSystem::Taskiq,
            &hex_of(1),
            0,
            TaskStatus::Success,
        ))
    };
    let celery_run = JoinedEvent {
        run_at: Some(span(3)),
        ..joined(event(SourceSystem::Celery, "c", 0, TaskStatus::Failed))
    };
    let mut retry = JoinedEvent {
        retry_of: Some(span(3)),
        ..joined(event(SourceSystem::Celery, "c", 0, TaskStatus::Pending))
    };
    retry.event.run.enqueued_at = Some(at(5));
    retry.event.run.queue = Some("retries".into());
    let logged = LoggedError {
        at: span(2),
        report: report("not found"),
        observed_at: at(4),
    };
    vec![
        JoinBatch {
            joined: vec![producer],
            ..JoinBatch::default()
        },
        JoinBatch {
            joined: vec![run],
            ..JoinBatch::default()
        },
        JoinBatch {
            errors: vec![logged],
            ..JoinBatch::default()
        },
        JoinBatch {
            joined: vec![celery_run],
            ..JoinBatch::default()
        },
        JoinBatch {
            joined: vec![retry],
            ..JoinBatch::default()
        },
    ]
}

fn hex_of(n: u8) -> String {
    format!("{n:02x}").repeat(8)
}

/// The rows the events merge into, per run key.
fn merged(events: Vec<TaskRunEvent>) -> BTreeMap<(String, i32), RunState> {
    let mut runs: BTreeMap<(String, i32), RunState> = BTreeMap::new();
    for event in events {
        let key = (event.run.task_id.clone(), event.run.attempt);
        let merged = match runs.remove(&key) {
            Some(state) => state.merge(event.run),
            None => event.run,
        };
        runs.insert(key, merged);
    }
    runs
}

/// What a database backend does: insert each phase's proposals where no row exists (which
/// locks them), then record over the rows it got back.
fn resolve_like_a_database(mut batch: JoinBatch, table: &mut JoinRows) -> Vec<TaskRunEvent> {
    let mut rows = JoinRows::new();
    for (span, proposal) in key_proposals(&batch) {
        rows.insert(span, table.get(&span).cloned().unwrap_or(proposal));
    }
    record_keys(&batch, &mut rows);
    apply_keys(&mut batch, &rows);
    for (span, proposal) in span_proposals(&batch) {
        rows.entry(span)
            .or_insert_with(|| table.get(&span).cloned().unwrap_or(proposal));
    }
    let outcome = record_spans(&batch, &mut rows);
    table.extend(rows);
    finish(batch, outcome)
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut all = Vec::new();
    for rest in permutations(n - 1) {
        for i in 0..=rest.len() {
            let mut p = rest.clone();
            p.insert(i, n - 1);
            all.push(p);
        }
    }
    all
}

#[test]
fn every_order_gives_one_row_per_run_with_its_error_and_retry() {
    let batches = scenario();
    for order in permutations(batches.len()) {
        let (mut memory, mut table) = (JoinRows::new(), JoinRows::new());
        let (mut events, mut database) = (Vec::new(), Vec::new());
        for &i in &order {
            events.extend(resolve(batches[i].clone(), &mut memory));
            database.extend(resolve_like_a_database(batches[i].clone(), &mut table));
        }
        let runs = merged(events);
        assert_eq!(runs, merged(database), "order {order:?}");
        assert_eq!(memory, table, "order {order:?}");
        let producer_first =
            order.iter().position(|&i| i == 0) < order.iter().position(|&i| i == 1);
        let taskiq_id = if producer_first {
            "m".to_owned()
        } else {
            hex_of(1)
        };
        // the retry's producer before or after the run it retries: its next attempt
        let mut expected = vec![
            (taskiq_id.clone(), 0),
            ("c".to_owned(), 0),
            ("c".to_owned(), 1),
        ];
        expected.sort();
        assert_eq!(
            runs.keys().cloned().collect::<Vec<_>>(),
            expected,
            "order {order:?}"
        );
        let retried = &runs[&("c".to_owned(), 1)];
        assert_eq!(
            (
                retried.status,
                retried.enqueued_at,
                retried.queue.as_deref()
            ),
            (TaskStatus::Pending, Some(at(5)), Some("retries")),
            "order {order:?}"
        );
        assert_eq!(runs[&("c".to_owned(), 0)].status, TaskStatus::Failed);
        // a released retry is not kept waiting
        assert!(
            memory.values().all(|row| row.waiting_retry.is_none()),
            "order {order:?}"
        );
        let taskiq = &runs[&(taskiq_id, 0)];
        assert_eq!(taskiq.status, TaskStatus::Success, "order {order:?}");
        assert_eq!(
            taskiq.enqueued_at,
            Some(at(0)),
            "order {order:?}: the producer joined"
        );
        assert_eq!(
            taskiq.error_message.as_deref(),
            Some("not found"),
            "order {order:?}"
        );
        // a report that met its run is not kept waiting
        assert!(
            memory.values().all(|row| row.waiting.is_none()),
            "order {order:?}"
        );
    }
}

#[test]
fn one_batch_joins_like_the_recognizer_did_the_producer_winning() {
    let mut all = JoinBatch::default();
    for batch in scenario() {
        all.extend(batch);
    }
    let runs = merged(resolve(all, &mut JoinRows::new()));
    let keys: Vec<_> = runs.keys().cloned().collect();
    assert_eq!(
        keys,
        vec![("c".into(), 0), ("c".into(), 1), ("m".into(), 0)]
    );
}

#[test]
fn duplicates_change_nothing() {
    let batches = scenario();
    let mut rows = JoinRows::new();
    let mut events = Vec::new();
    for batch in &batches {
        events.extend(resolve(batch.clone(), &mut rows));
    }
    let once = (merged(events.clone()), rows.clone());
    for batch in batches.iter().rev() {
        events.extend(resolve(batch.clone(), &mut rows));
    }
    assert_eq!((merged(events), rows), once);
}

#[test]
fn reports_wait_folded_and_only_run_spans_take_them() {
    let mut rows = JoinRows::new();
    let logged = |message: &str, n: u8| LoggedError {
        at: span(n),
        report: report(message),
        observed_at: at(5),
    };
    let early = JoinBatch {
        errors: vec![
            logged("b: second", 2),
            logged("a: first", 2),
            logged("x", 1),
        ],
        ..JoinBatch::default()
    };
    assert!(resolve(early, &mut rows).is_empty());
    assert_eq!(
        rows[&span(2)]
            .waiting
            .as_ref()
            .and_then(|r| r.message.as_deref()),
        Some("b: second")
    );
    // span 1 is a producer span: its key is recorded there, but reports do not join it
    let producer = JoinBatch {
        joined: vec![JoinedEvent {
            keyed_by: Some(KeyedBy {
                span: span(1),
                own: true,
            }),
            ..joined(event(SourceSystem::Taskiq, "m", 0, TaskStatus::Pending))
        }],
        ..JoinBatch::default()
    };
    assert_eq!(resolve(producer, &mut rows).len(), 1);
    assert!(rows[&span(1)].waiting.is_some());
    let run = JoinBatch {
        joined: vec![JoinedEvent {
            run_at: Some(span(2)),
            ..joined(event(SourceSystem::Celery, "c", 0, TaskStatus::Success))
        }],
        ..JoinBatch::default()
    };
    let events = resolve(run, &mut rows);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].run.status, TaskStatus::Pending);
    assert_eq!(events[1].run.error_message.as_deref(), Some("b: second"));
    assert_eq!(events[1].run.task_id, "c");
    assert!(rows[&span(2)].waiting.is_none());
}

#[test]
fn a_producer_under_another_task_or_source_is_no_retry() {
    let mut rows = JoinRows::new();
    let run = JoinBatch {
        joined: vec![JoinedEvent {
            run_at: Some(span(3)),
            ..joined(event(SourceSystem::Celery, "c", 2, TaskStatus::Failed))
        }],
        ..JoinBatch::default()
    };
    resolve(run, &mut rows);
    let producer = |task: &str| JoinBatch {
        joined: vec![JoinedEvent {
            retry_of: Some(span(3)),
            ..joined(event(SourceSystem::Celery, task, 0, TaskStatus::Pending))
        }],
        ..JoinBatch::default()
    };
    assert_eq!(resolve(producer("other"), &mut rows)[0].run.attempt, 0);
    assert_eq!(resolve(producer("c"), &mut rows)[0].run.attempt, 3);

    // Before its parent: attempt 0 now; a parent of another task id releases nothing.
    let early = |task: &str| JoinBatch {
        joined: vec![JoinedEvent {
            retry_of: Some(span(7)),
            ..joined(event(SourceSystem::Celery, task, 0, TaskStatus::Pending))
        }],
        ..JoinBatch::default()
    };
    let events = resolve(early("other"), &mut rows);
    assert_eq!((events.len(), events[0].run.attempt), (1, 0));
    assert!(rows[&span(7)].waiting_retry.is_some());
    let parent = JoinBatch {
        joined: vec![JoinedEvent {
            run_at: Some(span(7)),
            ..joined(event(SourceSystem::Celery, "d", 0, TaskStatus::Failed))
        }],
        ..JoinBatch::default()
    };
    let events = resolve(parent, &mut rows);
    assert_eq!(events.len(), 1, "only the run itself: {events:?}");
    assert!(rows[&span(7)].waiting_retry.is_none());
    // Not a Celery producer: it never waits.
    let taskiq = JoinBatch {
        joined: vec![JoinedEvent {
            retry_of: Some(span(8)),
            ..joined(event(SourceSystem::Taskiq, "t", 0, TaskStatus::Pending))
        }],
        ..JoinBatch::default()
    };
    resolve(taskiq, &mut rows);
    assert!(
        rows.get(&span(8))
            .is_none_or(|row| row.waiting_retry.is_none())
    );
}

#[test]
fn span_refs_round_trip_as_bytes() {
    let s = SpanRef {
        trace_id: [1; 16],
        span_id: [2; 8],
    };
    assert_eq!(SpanRef::from_bytes(&s.to_bytes()), Some(s));
    assert_eq!(SpanRef::from_bytes(&[1; 23]), None);
    assert!(span(1) < span(2));
}

#[test]
fn a_capped_report_holds_what_the_store_keeps_and_folds_like_the_merge() {
    // Found by fuzz/otlp_logs (fuzz/regressions/otlp_logs/nul-in-exception-message): a NUL in a
    // log record's `exception.message` reached the waiting report, which PostgreSQL cannot
    // store, and made the fold of waiting reports differ from the merge of stored ones.
    let capped = |message: &str| {
        ErrorReport {
            message: Some(message.to_owned()),
            error_type: Some("Value\0Error".to_owned()),
            traceback: Some("Traceback\0".to_owned()),
        }
        .capped()
    };
    let report = capped("not found\0in the store");
    assert_eq!(
        report.message.as_deref(),
        Some("not found\u{fffd}in the store")
    );
    assert_eq!(report.error_type.as_deref(), Some("Value\u{fffd}Error"));
    assert_eq!(report.traceback.as_deref(), Some("Traceback\u{fffd}"));

    let stored = |report: &ErrorReport| {
        let run = JoinedRun {
            key: RunKey {
                source: SourceSystem::Celery,
                task_id: "c".into(),
                attempt: 0,
            },
            task_name: "t".into(),
        };
        error_event(&run, report.clone(), at(0))
            .prepare()
            .map(|event| event.run)
    };
    let (a, b) = (capped("x\0"), capped("x\u{1}"));
    let mut folded = a.clone();
    folded.fold(b.clone());
    let merged = stored(&a).and_then(|a| Ok(a.merge(stored(&b)?)));
    assert_eq!(stored(&folded), merged);
}
