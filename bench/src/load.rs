//! Run `n` of a load, the same in every load client: its task type, run time and outcome, and
//! the finished-run span an instrumented worker would send for it.

use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, status};
use tasklens_instrumentation::demo::catalogue::TASK_TYPES;
use tasklens_model::conventions as conv;

use crate::otlp::{attr, text};

/// How long before its start a load run was enqueued.
pub const QUEUE_WAIT_NS: u64 = 3_000_000;

/// The task type of run `n`: the catalogue's task types in turn, not by weight, so that every
/// type's rows and rollups take part in the load from the first request on.
pub fn task_name(n: u64) -> &'static str {
    let index = usize::try_from(n % TASK_TYPES.len() as u64).unwrap_or(0);
    TASK_TYPES[index].name
}

/// Run time of run `n` in milliseconds: 20 ms to about 2 s, spread evenly.
pub fn run_time_ms(n: u64) -> u64 {
    20 + n * 7919 % 2_000
}

/// One run in 25 (4 %) fails.
pub fn failed(n: u64) -> bool {
    n.is_multiple_of(25)
}

/// The error message of a failed run `n`.
pub fn failure_message(n: u64) -> String {
    format!("rate limit exceeded for request {n}")
}

/// What a client picks for the span of run `n`.
#[derive(Debug, Clone)]
pub struct RunSpan<'a> {
    pub n: u64,
    pub start_ns: u64,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub task_id: &'a str,
    /// The params as JSON.
    pub params: &'a str,
}

/// The finished-run span of a load run: success, or failed with an error status.
pub fn finished_run_span(run: &RunSpan<'_>) -> Span {
    let n = run.n;
    let task = task_name(n);
    let mut span = Span {
        trace_id: run.trace_id.to_vec(),
        span_id: run.span_id.to_vec(),
        name: format!("run {task}"),
        kind: SpanKind::Consumer as i32,
        start_time_unix_nano: run.start_ns,
        end_time_unix_nano: run.start_ns + run_time_ms(n) * 1_000_000,
        attributes: vec![
            text(conv::TASK_NAME, task),
            text(conv::TASK_ID, run.task_id),
            text(conv::TASK_PARAMS, run.params),
            attr(
                conv::TASK_ENQUEUED_AT,
                any_value::Value::IntValue(
                    i64::try_from(run.start_ns - QUEUE_WAIT_NS).unwrap_or(0),
                ),
            ),
        ],
        ..Default::default()
    };
    if failed(n) {
        span.status = Some(Status {
            message: failure_message(n),
            code: status::StatusCode::Error as i32,
        });
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_load_runs_every_catalogue_task_type_in_turn() {
        let names: HashSet<&str> = (0..TASK_TYPES.len() as u64).map(task_name).collect();
        let catalogue: HashSet<&str> = TASK_TYPES.iter().map(|task| task.name).collect();
        assert_eq!(names, catalogue);
        assert_eq!(task_name(3), task_name(3 + TASK_TYPES.len() as u64));
    }

    #[test]
    fn one_run_in_25_fails_with_an_error_status() {
        let span = |n| {
            finished_run_span(&RunSpan {
                n,
                start_ns: 10_000_000_000,
                trace_id: [1; 16],
                span_id: [2; 8],
                task_id: "task",
                params: "{}",
            })
        };
        assert_eq!((0..100).filter(|n| failed(*n)).count(), 4);
        assert!(
            span(25)
                .status
                .is_some_and(|s| s.message == failure_message(25))
        );
        assert!(span(26).status.is_none());
        let ok = span(26);
        assert_eq!(
            ok.end_time_unix_nano - ok.start_time_unix_nano,
            run_time_ms(26) * 1_000_000
        );
    }
}
