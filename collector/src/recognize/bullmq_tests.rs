//! Edge cases of the BullMQ rules on hand-built spans; the recorded BullMQ spans are checked in
//! `tests/fixtures_replay.rs`.

use std::collections::BTreeMap;

use tasklens_model::RunState;

use super::super::Recognized;
use super::super::testing::*;
use super::*;

const QUEUE: &str = "emails";

/// A process span as BullMQ 6.7.0 starts it (before the job is settled).
fn process() -> SpanBuilder {
    SpanBuilder::consumer("process emails")
        .attr("bullmq.queue.name", s(QUEUE))
        .attr("bullmq.queue.operation", s("process"))
        .attr("bullmq.worker.id", s("0f7c0e0a-worker"))
        .attr("bullmq.worker.name", s("w1"))
        .attr(JOB_ID, s("42"))
        .attr("bullmq.job.name", s("send-welcome"))
}

/// ... settled: moved to completed, `attemptsMade` already counting this attempt.
fn completed(made: i64) -> SpanBuilder {
    process()
        .event(COMPLETED_EVENT, vec![attr("bullmq.job.result", s("{}"))])
        .attr(ATTEMPTS_MADE, i(made))
}

/// ... settled: moved to failed (or to a retry), `attemptsMade` counting this attempt.
fn failed(made: i64, reason: &str) -> SpanBuilder {
    process()
        .event(FAILED_EVENT, vec![attr(FAILED_REASON, s(reason))])
        .attr(ATTEMPTS_MADE, i(made))
}

fn add(span_n: u8, queue: &str, job: &str, id: &str) -> SpanBuilder {
    SpanBuilder::producer(&format!("add {queue}.{job}"))
        .ids(span_n, span_n)
        .attr("bullmq.queue.name", s(queue))
        .attr("bullmq.queue.operation", s("add"))
        .attr("bullmq.job.name", s(job))
        .attr(JOB_ID, s(id))
}

/// The state a store would keep per run: every event of a key merged.
fn rows(recognized: &Recognized) -> BTreeMap<(String, i32), RunState> {
    let mut rows: BTreeMap<(String, i32), RunState> = BTreeMap::new();
    for event in &recognized.events {
        let key = (event.run.task_id.clone(), event.run.attempt);
        let merged = match rows.remove(&key) {
            Some(row) => row.merge(event.run.clone()),
            None => event.run.clone(),
        };
        rows.insert(key, merged);
    }
    rows
}

fn statuses(recognized: &Recognized) -> Vec<(String, i32, TaskStatus)> {
    rows(recognized)
        .into_iter()
        .map(|((task_id, attempt), row)| (task_id, attempt, row.status))
        .collect()
}

fn key(task_id: &str, attempt: i32) -> (String, i32) {
    (task_id.to_owned(), attempt)
}

#[test]
fn runs_table() {
    let lost_lock = "Missing lock for job 42. moveToFinished";
    // (span, task id, attempt, status, message)
    let cases = [
        (completed(1), "emails:42", 0, TaskStatus::Success, None),
        (
            failed(2, "smtp down"),
            "emails:42",
            1,
            TaskStatus::Failed,
            Some("smtp down"),
        ),
        // a count of 0 (no attempt made yet) is read as the first attempt
        (completed(0), "emails:42", 0, TaskStatus::Success, None),
        // JavaScript numbers may travel as doubles
        (
            process()
                .event(COMPLETED_EVENT, vec![])
                .attr(ATTEMPTS_MADE, d(3.0)),
            "emails:42",
            2,
            TaskStatus::Success,
            None,
        ),
        // BullMQ's own error while moving the job is no job failure, nor the job's message
        (
            completed(1).exception("", lost_lock, ""),
            "emails:42",
            0,
            TaskStatus::Success,
            None,
        ),
        (
            failed(1, "smtp down").exception("", lost_lock, ""),
            "emails:42",
            0,
            TaskStatus::Failed,
            Some("smtp down"),
        ),
        (
            process()
                .event(FAILED_EVENT, vec![])
                .attr(ATTEMPTS_MADE, i(1)),
            "emails:42",
            0,
            TaskStatus::Failed,
            Some("task failed (no error message was reported)"),
        ),
        (
            process()
                .event(FAILED_EVENT, vec![])
                .error("from the status")
                .attr(ATTEMPTS_MADE, i(1)),
            "emails:42",
            0,
            TaskStatus::Failed,
            Some("from the status"),
        ),
        // other senders: status ERROR without BullMQ's event or count
        (
            process().error("status only"),
            "emails:42",
            0,
            TaskStatus::Failed,
            Some("status only"),
        ),
        (
            SpanBuilder::consumer("process reports")
                .attr(JOB_ID, i(7))
                .attr("bullmq.job.name", s("daily"))
                .event(COMPLETED_EVENT, vec![]),
            "reports:7",
            0,
            TaskStatus::Success,
            None,
        ),
        (
            SpanBuilder::consumer("consume")
                .attr(JOB_ID, s("7"))
                .attr("bullmq.job.name", s("daily"))
                .attr(ATTEMPTS_MADE, i(1)),
            "7",
            0,
            TaskStatus::Success,
            None,
        ),
    ];
    for (builder, task_id, attempt, status, message) in cases {
        let recognized = recognize_spans(vec![builder.clone().build()]);
        let run = &single(&recognized).run;
        assert_eq!(run.task_id, task_id, "{builder:?}");
        assert_eq!(run.attempt, attempt, "{builder:?}");
        assert_eq!(run.status, status, "{builder:?}");
        assert_eq!(run.error_message.as_deref(), message, "{builder:?}");
        assert_eq!(run.error_type, None, "{builder:?}");
        assert_eq!(
            run.queue.as_deref(),
            task_id.split_once(':').map(|(q, _)| q)
        );
    }
}

#[test]
fn an_attempt_bullmq_did_not_settle_reports_nothing() {
    // closing worker, rate limit, DelayedError/WaitingChildrenError, or a lost lock (BullMQ
    // records its own errors as exception events): no outcome event, no count
    let recognized = recognize_spans(vec![
        process().ids(1, 1).build(),
        process()
            .ids(1, 2)
            .exception("", "Missing lock for job 42. moveToFinished", "")
            .exception("", "Missing lock for job 42. moveToFailed", "")
            .build(),
    ]);
    assert!(recognized.events.is_empty());
    assert!(recognized.rejected.is_empty());
    assert_eq!(recognized.ignored, 2);

    // BullMQ then runs the job again with attemptsMade unchanged: one row, the same attempt
    let recognized = recognize_spans(vec![
        process().ids(1, 1).build(),
        completed(1).ids(1, 3).build(),
    ]);
    assert_eq!(
        statuses(&recognized),
        vec![("emails:42".to_owned(), 0, TaskStatus::Success)]
    );
}

#[test]
fn the_pending_row_is_the_first_attempt() {
    let recognized = recognize_spans(vec![
        add(1, QUEUE, "send-welcome", "42").build(),
        completed(1).ids(1, 2).parent(1).build(),
    ]);
    let rows = rows(&recognized);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = &rows[&key("emails:42", 0)];
    assert_eq!(row.status, TaskStatus::Success);
    assert_eq!(row.enqueued_at, Some(at(T0)));
    assert_eq!(row.started_at, Some(at(T0)));
    assert_eq!(row.span_id, Some([2; 8]), "the run span decides");
    assert_eq!(row.queue.as_deref(), Some(QUEUE));
}

#[test]
fn a_retried_job_has_one_row_per_attempt() {
    // attempts: 2, the first attempt fails and BullMQ retries it; both process spans are
    // children of the add span (BullMQ keeps the job's first propagation metadata)
    let spans = vec![
        add(1, QUEUE, "send-welcome", "42").build(),
        failed(1, "smtp down").ids(1, 2).parent(1).build(),
        completed(2).ids(1, 3).parent(1).build(),
    ];
    let expected = vec![
        ("emails:42".to_owned(), 0, TaskStatus::Failed),
        ("emails:42".to_owned(), 1, TaskStatus::Success),
    ];
    assert_eq!(statuses(&recognize_spans(spans.clone())), expected);
    // the same reports one by one, in reverse
    let mut recognizer = recognizer();
    let mut all = Recognized::default();
    for span in spans.into_iter().rev() {
        all.events
            .extend(recognizer.traces(&traces(vec![span]), observed()).events);
    }
    assert_eq!(statuses(&all), expected);
    assert_eq!(
        rows(&all)[&key("emails:42", 0)].error_message.as_deref(),
        Some("smtp down")
    );
}

#[test]
fn a_delayed_job_is_pending_until_it_runs() {
    let producer = recognize_spans(vec![add(1, "digests", "send_digest", "d1").build()]);
    let run = &single(&producer).run;
    assert_eq!(
        (run.task_id.as_str(), run.attempt, run.status),
        ("digests:d1", 0, TaskStatus::Pending)
    );
    assert_eq!((run.enqueued_at, run.started_at), (Some(at(T0)), None));
    assert_eq!(
        run.trace_id, None,
        "a producer report carries no worker span"
    );
}

#[test]
fn each_job_of_a_flow_is_its_own_run_and_the_parent_waits() {
    let node = |span_n: u8, parent: u8, queue: &str, job: &str, id: &str| {
        SpanBuilder::producer(&format!("addNode {queue}"))
            .ids(9, span_n)
            .parent(parent)
            .attr("bullmq.queue.name", s(queue))
            .attr("bullmq.queue.operation", s("addNode"))
            .attr("bullmq.job.name", s(job))
            .attr(JOB_ID, s(id))
    };
    let run = |span_n: u8, parent: u8, queue: &str, job: &str, id: &str| {
        SpanBuilder::consumer(&format!("process {queue}"))
            .ids(9, span_n)
            .parent(parent)
            .attr("bullmq.queue.name", s(queue))
            .attr("bullmq.job.name", s(job))
            .attr(JOB_ID, s(id))
            .attr(ATTEMPTS_MADE, i(1))
            .event(COMPLETED_EVENT, vec![])
    };
    let producer = vec![
        SpanBuilder::producer("addFlow reports")
            .ids(9, 1)
            .attr("bullmq.queue.name", s("reports"))
            .attr("bullmq.flow.name", s("build_report"))
            .build(),
        node(2, 1, "reports", "build_report", "r1").build(),
        // a child may reuse its parent's job id: another queue, another run
        node(3, 2, "sections", "render_section", "r1").build(),
        node(4, 2, "sections", "render_section", "s2").build(),
    ];
    let children = vec![
        run(5, 3, "sections", "render_section", "r1").build(),
        run(6, 4, "sections", "render_section", "s2").build(),
    ];
    let mut recognizer = recognizer();
    let mut seen = recognizer.traces(&traces(producer), observed());
    assert_eq!(seen.ignored, 1, "addFlow names no job");
    seen.events
        .extend(recognizer.traces(&traces(children), observed()).events);
    assert_eq!(
        statuses(&seen),
        vec![
            ("reports:r1".to_owned(), 0, TaskStatus::Pending),
            ("sections:r1".to_owned(), 0, TaskStatus::Success),
            ("sections:s2".to_owned(), 0, TaskStatus::Success),
        ],
        "the parent still waits for its children"
    );
    let parent = vec![run(7, 2, "reports", "build_report", "r1").build()];
    seen.events
        .extend(recognizer.traces(&traces(parent), observed()).events);
    assert!(
        statuses(&seen)
            .iter()
            .all(|(_, _, status)| *status == TaskStatus::Success)
    );
    assert_eq!(rows(&seen).len(), 3);
}

#[test]
fn spans_that_are_not_job_runs() {
    let recognized = recognize_spans(vec![
        SpanBuilder::producer("addBulk emails")
            .attr("bullmq.job.bulk.count", i(3))
            .build(),
        SpanBuilder::consumer("process emails")
            .attr("bullmq.queue.name", s("emails"))
            .build(),
    ]);
    assert_eq!(recognized.ignored, 1);
    assert_eq!(
        recognized.rejected,
        vec![format!(
            "span {} (\"process emails\"): bullmq.job.id is missing",
            sid_hex(2)
        )]
    );
}

#[test]
fn unusable_attempt_counts_are_rejected() {
    let cases = [
        (i(-1), "bullmq.job.attempts.made is -1, expected 0 or more"),
        (
            s("often"),
            "bullmq.job.attempts.made is \"often\", expected an integer",
        ),
        (
            i(i64::MAX),
            "bullmq.job.attempts.made is 9223372036854775807, out of range for an attempt number",
        ),
    ];
    for (value, reason) in cases {
        let span = process()
            .event(COMPLETED_EVENT, vec![])
            .attr(ATTEMPTS_MADE, value)
            .build();
        let recognized = recognize_spans(vec![span]);
        assert!(recognized.events.is_empty());
        assert_eq!(
            recognized.rejected,
            vec![format!(
                "span {} (\"process emails\"): {reason}",
                sid_hex(2)
            )]
        );
    }
}
