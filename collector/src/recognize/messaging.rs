//! Any system that follows the OpenTelemetry messaging semantic conventions.
//!
//! - Claimed: `messaging.system` present, and operation (`messaging.operation.type`, else the
//!   older `messaging.operation`) `process` on a CONSUMER span, or `send`/`create`/`publish`
//!   on a PRODUCER span. Receive and settle spans are not runs.
//! - Task name: `messaging.destination.name` (else the older `messaging.destination`, else the
//!   span name). Task id: `messaging.message.id` (older `messaging.message_id`); a consumer
//!   without one is filed under its own span id in hex (it cannot join a producer then), a
//!   producer without one is ignored (nothing could ever join it). Attempt 0: the conventions
//!   have no attempt number, so redeliveries of a message fold into one run.
//! - Failed on status ERROR or an `exception` event.

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tasklens_model::{RunKey, SourceSystem, TaskStatus};

use super::attributes::Attrs;
use super::span::{Draft, Outcome, Role, SpanView, pending_state};

const TASK_ID_KEYS: [&str; 2] = ["messaging.message.id", "messaging.message_id"];

fn operation(attrs: Attrs<'_>) -> Option<String> {
    attrs
        .first_str(&["messaging.operation.type", "messaging.operation"])
        .map(|op| op.trim().to_ascii_lowercase())
}

/// Whether a span with `messaging.system` is a run (see the module doc).
pub(crate) fn claims(attrs: Attrs<'_>, kind: SpanKind) -> bool {
    matches!(
        (kind, operation(attrs).as_deref()),
        (SpanKind::Consumer, Some("process"))
            | (SpanKind::Producer, Some("send" | "create" | "publish"))
    )
}

pub(crate) fn recognize(view: &SpanView<'_>) -> Outcome {
    let attrs = view.attrs;
    let message_id = attrs.first_id(&TASK_ID_KEYS);
    let role = match view.kind() {
        SpanKind::Consumer => Role::Run,
        SpanKind::Producer if message_id.is_some() => Role::Producer,
        _ => return Ok(None),
    };
    let envelope = view.envelope()?;
    let destination = attrs.first_str(&["messaging.destination.name", "messaging.destination"]);
    let task_name = destination.unwrap_or(&view.span.name).to_owned();
    let key = RunKey {
        source: SourceSystem::Messaging,
        task_id: message_id.unwrap_or_else(|| hex::encode(envelope.at.span_id)),
        attempt: 0,
    };
    let mut run = match role {
        Role::Producer => pending_state(&envelope, key, task_name),
        Role::Run => {
            let status = if view.reports_error() {
                TaskStatus::Failed
            } else {
                TaskStatus::Success
            };
            let mut run = view.run_state(&envelope, key, task_name, status, None);
            if status == TaskStatus::Failed {
                view.failure(None).apply(&mut run);
            }
            run
        }
    };
    run.queue = destination.map(str::to_owned);
    Ok(Some(Draft {
        run,
        role,
        at: envelope.at,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn consumer() -> SpanBuilder {
        SpanBuilder::consumer("process orders")
            .ids(1, 0x0a)
            .attr("messaging.system", s("rabbitmq"))
            .attr("messaging.operation.type", s("process"))
            .attr("messaging.destination.name", s("orders"))
    }

    #[test]
    fn ids_names_and_outcomes_table() {
        // (span, task id, task name, status, message)
        let cases = [
            (
                consumer().attr("messaging.message.id", s("m-1")),
                "m-1".to_owned(),
                "orders",
                TaskStatus::Success,
                None,
            ),
            (
                consumer(),
                sid_hex(0x0a),
                "orders",
                TaskStatus::Success,
                None,
            ),
            (
                consumer()
                    .attr("messaging.message_id", i(77))
                    .exception("E", "bad order", "trace"),
                "77".to_owned(),
                "orders",
                TaskStatus::Failed,
                Some("bad order"),
            ),
            (
                SpanBuilder::consumer("handle")
                    .attr("messaging.system", s("kafka"))
                    .attr("messaging.operation", s("PROCESS"))
                    .error("status only"),
                sid_hex(2),
                "handle",
                TaskStatus::Failed,
                Some("status only"),
            ),
        ];
        for (builder, task_id, name, status, message) in cases {
            let recognized = recognize_spans(vec![builder.clone().build()]);
            assert_eq!(
                recognized.spans_by_source.get(&SourceSystem::Messaging),
                Some(&1)
            );
            let run = &single(&recognized).run;
            assert_eq!(run.task_id, task_id, "{builder:?}");
            assert_eq!(run.task_name, name, "{builder:?}");
            assert_eq!(run.status, status, "{builder:?}");
            assert_eq!(run.error_message.as_deref(), message, "{builder:?}");
        }
    }

    #[test]
    fn producers_need_a_message_id() {
        let producer = |op: &str| {
            SpanBuilder::producer("send orders")
                .attr("messaging.system", s("rabbitmq"))
                .attr("messaging.operation.type", s(op))
                .attr("messaging.destination.name", s("orders"))
        };
        let recognized = recognize_spans(vec![
            producer("send")
                .attr("messaging.message.id", s("m-1"))
                .build(),
            producer("publish").build(),
            producer("receive")
                .attr("messaging.message.id", s("m-2"))
                .build(),
        ]);
        let run = &single(&recognized).run;
        assert_eq!(run.status, TaskStatus::Pending);
        assert_eq!(run.task_id, "m-1");
        assert_eq!(run.queue.as_deref(), Some("orders"));
        assert_eq!(recognized.ignored, 2);
    }

    #[test]
    fn a_consumer_and_its_producer_share_the_message_id() {
        let recognized = recognize_spans(vec![
            SpanBuilder::producer("orders create")
                .ids(1, 1)
                .attr("messaging.system", s("rabbitmq"))
                .attr("messaging.operation.type", s("create"))
                .attr("messaging.destination.name", s("orders"))
                .attr("messaging.message.id", s("m-1"))
                .build(),
            consumer()
                .ids(2, 2)
                .link(1, 1)
                .attr("messaging.message.id", s("m-1"))
                .build(),
        ]);
        let keys: Vec<_> = recognized.events.iter().map(|e| e.run.key()).collect();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], keys[1]);
    }
}
