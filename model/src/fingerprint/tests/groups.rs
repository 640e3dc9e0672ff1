//! Which recorded failures share a group, and why.

use super::data::*;
use crate::fingerprint::{fingerprint, frames};
use crate::limits::{MAX_TEXT_BYTES, cap_text_end};

#[test]
fn one_exception_with_other_ids_values_lines_or_reporting_path_shares_a_group() {
    let celery_retries = otlp(CELERY_RETRY, "embed_messages_batch");
    let taskiq_retries = otlp(TASKIQ_RETRY, "app.tasks.embeddings:embed_messages_batch");
    let s = |value: &str| value.to_owned();
    let same = [
        // (a, b, what differs)
        (
            py(1, "score_message", "(-1,)"),
            py(1, "score_message", "(123456,)"),
            s("the id"),
        ),
        (
            py(1, "score_message", "(-1,)"),
            py(2, "score_message", "(-1,)"),
            s("a deploy moved every line and the directory"),
        ),
        (
            py(1, "parse_payload", r#"('{"user": }',)"#),
            py(1, "parse_payload", r#"('{"user_name": 1, "age": }',)"#),
            s("the payload: column numbers"),
        ),
        (
            py(1, "fetch_profile", "('PORT', 42)"),
            py(1, "fetch_profile", "('PORT', 90817)"),
            s("the user id in the URL path"),
        ),
        (
            py(1, "fetch_profile", "('PORT', 42)"),
            py(2, "fetch_profile", "('PORT', 90817)"),
            s("the id and the deploy"),
        ),
        (
            py(1, "charge", "('ord-7f3a',)"),
            py(2, "charge", "('ord-7f3a',)"),
            s("the deploy, in a chained exception"),
        ),
        (
            one(otlp(CELERY_SPAN, "score_message")),
            one(otlp(CELERY_LOG, "score_message")),
            s("span event against log record (no Celery frame)"),
        ),
        (
            one(otlp(TASKIQ_SPAN, "score_message")),
            one(otlp(TASKIQ_LOG, "score_message")),
            s("span event against log record (no TaskIQ frame)"),
        ),
        (
            taskiq_retries[0].clone(),
            taskiq_retries[1].clone(),
            s("the attempt number in TaskIQ's retry reason"),
        ),
        (
            celery_retries[0].clone(),
            with_task(celery_retries[0].clone(), "embed_messages_batch"),
            s("nothing (Celery's retry reason is stable)"),
        ),
        (
            node(1, "score_message", r#"{"message_id":17}"#),
            node(1, "score_message", r#"{"message_id":90210}"#),
            s("the job data"),
        ),
        (
            node(1, "score_message", r#"{"message_id":17}"#),
            node(2, "score_message", r#"{"message_id":90210}"#),
            s("the deploy"),
        ),
        (
            node(1, "parse_payload", r#"{"raw":"{\"user\": }"}"#),
            node(
                2,
                "parse_payload",
                r#"{"raw":"{\"user_name\": 1, \"age\": }"}"#,
            ),
            s("the JSON input V8 quotes, shortened"),
        ),
        (
            node(1, "fetch_profile", r#"{"url":"users/42/profile"}"#),
            node(2, "fetch_profile", r#"{"url":"users/90817/profile"}"#),
            s("the URL and the deploy"),
        ),
        (
            bullmq(1, "parse_payload", r#"{"raw":"{\"user\": }"}"#),
            bullmq(
                2,
                "parse_payload",
                r#"{"raw":"{\"user_name\": 1, \"age\": }"}"#,
            ),
            s("a BullMQ reason's quoted input"),
        ),
        (
            bullmq(1, "unknown_job", "{}"),
            bullmq(2, "unknown_job", "{}"),
            s("nothing but the queue"),
        ),
        (
            rust(
                "fp-backtrace",
                "ingest_telegram_messages",
                "Telegram API flood wait",
            ),
            rust(
                "fp-chain",
                "ingest_telegram_messages",
                "Telegram API flood wait",
            ),
            s("the wait, and RUST_BACKTRACE on or off"),
        ),
        (
            rust("fp-backtrace", "score_message", "OpenAI API rate limit"),
            rust("fp-chain", "score_message", "OpenAI API rate limit"),
            s("RUST_BACKTRACE on or off"),
        ),
    ];
    for (a, b, why) in same {
        assert_eq!(
            a.fingerprint(),
            b.fingerprint(),
            "{} / {} differ in {why} only",
            a.label,
            b.label
        );
    }
}

#[test]
fn two_different_exceptions_of_one_task_never_share_a_group() {
    let different = [
        (
            py(1, "score_message", "(-1,)"),
            py(1, "score_message", "(7,)"),
            "ValueError against KeyError",
        ),
        (
            py(1, "parse_payload", r#"('{"user": }',)"#),
            py(1, "parse_payload", "(None,)"),
            "JSONDecodeError against TypeError",
        ),
        (
            py(1, "charge", "('ord-7f3a',)"),
            py(1, "charge", "(None,)"),
            "one wrapper, one message, one line, different causes",
        ),
        (
            node(1, "score_message", r#"{"message_id":17}"#),
            node(1, "score_message", r#"{"message":{}}"#),
            "one line, reading 'text' against 'trim'",
        ),
        (
            bullmq(1, "score_message", r#"{"message_id":17}"#),
            bullmq(1, "score_message", r#"{"message":{}}"#),
            "the same, as BullMQ reasons",
        ),
        (
            node(1, "fetch_profile", r#"{"url":"users/42/profile"}"#),
            node(1, "check_version", r#"{"version":"1.2.x"}"#),
            "two tasks, two errors",
        ),
        (
            rust("fp-chain", "score_message", "no database connection"),
            rust("fp-chain", "score_message", "the cache cannot be reached"),
            "one Rust type, two variants",
        ),
        (
            rust(
                "fp-chain",
                "scheduled_auto_approval",
                "database query failed",
            ),
            with_task(
                rust("fp-chain", "score_message", "database query failed"),
                "scheduled_auto_approval",
            ),
            "UPDATE against INSERT",
        ),
        (
            rust("fp-chain", "score_message", "OpenAI API rate limit"),
            with_task(
                rust(
                    "fp-chain",
                    "ingest_telegram_messages",
                    "Telegram API flood wait",
                ),
                "score_message",
            ),
            "two HTTP failures",
        ),
        (
            py(1, "score_message", "(-1,)"),
            with_task(py(1, "score_message", "(-1,)"), "embed_messages_batch"),
            "one failure in two task types",
        ),
    ];
    for (a, b, why) in different {
        assert_ne!(
            a.fingerprint(),
            b.fingerprint(),
            "{} / {}: {why}",
            a.label,
            b.label
        );
    }
}

#[test]
fn the_in_app_frames_nearest_the_raise_point_are_taken() {
    let f = |function: &str, file: &str| (function.to_owned(), file.to_owned());
    let recorder = "testdata/record_python.py";
    let cases = [
        (
            one(otlp(CELERY_SPAN, "score_message")),
            vec![f("score_message", "fixtures/record.py")],
        ),
        (
            py(1, "score_message", "(-1,)"),
            vec![
                f("load_message", "app/tasks.py"),
                f("score_message", "app/tasks.py"),
                f("main", recorder),
            ],
        ),
        (
            py(1, "parse_payload", r#"('{"user": }',)"#),
            vec![f("parse_payload", "app/tasks.py"), f("main", recorder)],
        ),
        (
            py(1, "fetch_profile", "('PORT', 42)"),
            vec![f("fetch_profile", "app/tasks.py"), f("main", recorder)],
        ),
        (
            py(2, "charge", "(None,)"),
            vec![
                f("charge", "app/tasks.py"),
                f("main", recorder),
                f("charge", "app/tasks.py"),
            ],
        ),
        (
            node(1, "score_message", r#"{"message_id":17}"#),
            vec![
                f("messageText", "app/jobs.cjs"),
                f("scoreMessage", "app/jobs.cjs"),
                f("Worker.process", "app/jobs.cjs"),
            ],
        ),
        (
            node(1, "check_version", r#"{"version":"1.2.x"}"#),
            vec![
                f("checkVersion", "app/jobs.cjs"),
                f("Worker.process", "app/jobs.cjs"),
            ],
        ),
        (
            node(1, "fetch_profile", r#"{"url":"users/42/profile"}"#),
            vec![
                f("fetchProfile", "app/jobs.cjs"),
                f("Worker.process", "app/jobs.cjs"),
            ],
        ),
        // the demo's task code lives in the instrumentation crate: no frame is the application's
        (
            rust("fp-backtrace", "score_message", "OpenAI API rate limit"),
            vec![],
        ),
        (bullmq(1, "score_message", r#"{"message_id":17}"#), vec![]),
    ];
    for (failure, frames) in cases {
        assert_eq!(failure.frames(), frames, "{}", failure.label);
    }
}

#[test]
fn causes_are_read_from_python_chains_and_rust_sources() {
    let fetch = py(1, "fetch_profile", "('PORT', 42)");
    let summary = frames::summarize(fetch.traceback.as_deref().unwrap_or_default());
    assert_eq!(
        summary.causes,
        [
            "ConnectionRefusedError",
            "NewConnectionError",
            "MaxRetryError"
        ]
    );
    let limit = rust("fp-chain", "score_message", "OpenAI API rate limit");
    let summary = frames::summarize(limit.traceback.as_deref().unwrap_or_default());
    assert_eq!(
        summary.causes,
        [
            "HTTP <num> Too Many Requests from <url>",
            "Rate limit reached for gpt-<num>o-mini: limit <num> RPM, used <num>; retry after <num>s",
        ]
    );
}

#[test]
fn without_an_in_app_frame_type_message_and_causes_decide() {
    let stored = rust("fp-backtrace", "score_message", "no database connection");
    let chain_only = stored
        .traceback
        .as_deref()
        .and_then(|t| t.find("Caused by:").map(|at| t[at..].to_owned()));
    let bare = Failure {
        traceback: chain_only,
        ..stored.clone()
    };
    assert_eq!(stored.fingerprint(), bare.fingerprint());
    // a reason with neither type nor traceback is grouped by its normalised text
    let reason = bullmq(1, "unknown_job", "{}");
    assert_eq!(
        reason.fingerprint(),
        fingerprint(
            &crate::TaskType::new("unknown_job", None, None),
            None,
            Some("unknown job unknown_job (id 99)"),
            None
        )
    );
}

#[test]
fn a_value_text_cannot_tell_from_the_message_still_splits_a_group() {
    // The known limit of normalising text: `1.2.x` and `v10.beta` are neither numbers, ids nor
    // quoted, so one failure of semver reads as two messages.
    let a = node(1, "check_version", r#"{"version":"1.2.x"}"#);
    let b = node(1, "check_version", r#"{"version":"v10.beta"}"#);
    assert_eq!(a.frames(), b.frames());
    assert_ne!(a.fingerprint(), b.fingerprint());
}

#[test]
fn a_traceback_cut_for_size_keeps_the_frames_that_decide() {
    let fetch = py(1, "fetch_profile", "('PORT', 42)");
    let traceback = fetch.traceback.clone().unwrap_or_default();
    let header = "Traceback (most recent call last):\n";
    let filler: String = (0..4_000)
        .map(|n| format!("  File \"/venv/lib/python3.11/site-packages/lib/deep.py\", line {n}, in recurse\n    recurse()\n"))
        .collect();
    let long = traceback.replacen(header, &format!("{header}{filler}"), 1);
    assert!(long.len() > MAX_TEXT_BYTES);
    let cut = Failure {
        traceback: Some(cap_text_end(long, MAX_TEXT_BYTES)),
        ..fetch.clone()
    };
    assert_eq!(cut.frames(), fetch.frames());
    assert_eq!(cut.fingerprint(), fetch.fingerprint());
}
