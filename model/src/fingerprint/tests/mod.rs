//! Table tests on real failures: the Celery and TaskIQ fixtures the collector replays, and the
//! Python, Node (BullMQ) and Rust failures recorded in `testdata/` (its README says how).

mod data;
mod groups;
mod normalize;

use std::backtrace::Backtrace;

use super::normalize::normalize_type;
use super::*;

#[inline(never)]
fn report_from_the_parser(id: u32) -> String {
    let backtrace = Backtrace::force_capture();
    format!("{backtrace}\n\nCaused by:\nmessage {id} has no body")
}

#[inline(never)]
fn report_from_the_scorer(id: u32) -> String {
    let backtrace = Backtrace::force_capture();
    format!("{backtrace}\n\nCaused by:\nmessage {id} has no body")
}

#[test]
fn a_live_rust_backtrace_is_grouped_by_its_in_app_frames() {
    // Backtraces taken here, in the format the instrumentation reports them in.
    let group = |traceback: &str| {
        fingerprint(
            &TaskType::new("score_message", None, None),
            Some("app::Error"),
            Some("cannot score"),
            Some(traceback),
        )
    };
    let parser = report_from_the_parser(1);
    let frames = in_app_frames(&parser);
    // a build without debug info resolves no file, so nothing is in-app there
    assert!(!frames.is_empty() || !cfg!(debug_assertions), "{parser}");
    if frames.is_empty() {
        return;
    }
    assert!(
        frames[0].function.ends_with("report_from_the_parser"),
        "{frames:?}"
    );
    assert_eq!(frames[0].file, "tests/mod.rs");
    assert_eq!(group(&parser), group(&report_from_the_parser(2)));
    assert_ne!(group(&parser), group(&report_from_the_scorer(1)));
}

#[test]
fn the_version_is_stored_with_a_stable_hash() {
    let failure = fingerprint(
        &TaskType::new("score_message", Some("scoring"), Some("production")),
        Some("ValueError"),
        Some("message -1 not found"),
        None,
    );
    assert_eq!(failure.version, FINGERPRINT_VERSION);
    assert_eq!(FINGERPRINT_VERSION, 3);
    // SHA-256 of the documented bytes (Python's hashlib over the same bytes gives the same), on
    // every platform and Rust version. A change here moves every group, and needs a new
    // FINGERPRINT_VERSION.
    assert_eq!(failure.hash, "61b30d1a3971eedfcb211d97b3c337ed");
    assert_eq!(failure.to_string(), format!("v3:{}", failure.hash));
    // the fields are length-prefixed: moving text from one field to the next is another group
    let untyped = |name: &str| TaskType::new(name, None, None);
    assert_ne!(
        fingerprint(&untyped("a"), Some("b c"), None, None),
        fingerprint(&untyped("a b"), Some("c"), None, None)
    );
}

#[test]
fn one_failure_in_two_services_or_environments_is_two_groups() {
    let group = |service: Option<&str>, environment: Option<&str>| {
        fingerprint(
            &TaskType::new("send_email", service, environment),
            Some("SMTPServerDisconnected"),
            Some("Connection unexpectedly closed"),
            None,
        )
    };
    let billing = group(Some("billing"), Some("production"));
    assert_ne!(billing, group(Some("signup"), Some("production")));
    assert_ne!(billing, group(Some("billing"), Some("staging")));
    assert_ne!(billing, group(None, Some("production")));
    assert_eq!(billing, group(Some("billing"), Some("production")));
}

#[test]
fn module_paths_are_dropped_from_python_types_only() {
    assert_eq!(
        normalize_type("json.decoder.JSONDecodeError"),
        "JSONDecodeError"
    );
    assert_eq!(normalize_type(" ValueError "), "ValueError");
    assert_eq!(
        normalize_type("tasklens_instrumentation::demo::errors::DemoTaskError"),
        "tasklens_instrumentation::demo::errors::DemoTaskError"
    );
    assert_eq!(
        normalize_type("ActiveRecord::RecordNotFound"),
        "ActiveRecord::RecordNotFound"
    );
    assert_eq!(normalize_type("ERR_INVALID_URL"), "ERR_INVALID_URL");
}
