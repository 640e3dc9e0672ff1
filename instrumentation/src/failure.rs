//! What a failed run reports: pure functions from an error or a panic payload to the text the
//! run span carries, size-capped.

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::error::Error;

use tasklens_model::limits::{MAX_TEXT_BYTES, cap_text, cap_text_end};

/// The error of a failed run, as the span reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureReport {
    /// `exception.message`: the error's Display.
    pub message: String,
    /// `exception.type`: the Rust type of the error, or `panic`.
    pub error_type: String,
    /// `tasklens.error.chain`: the error's sources, one per line, outermost first.
    pub chain: Option<String>,
    /// `exception.stacktrace`, when a backtrace was captured.
    pub backtrace: Option<String>,
}

/// The type given to panics.
pub const PANIC_TYPE: &str = "panic";

impl FailureReport {
    /// From an error returned by the task. A backtrace is taken when the environment enables
    /// capture (RUST_BACKTRACE / RUST_LIB_BACKTRACE); it shows where the failure was observed.
    pub fn from_error<E: Error + ?Sized>(error: &E) -> Self {
        Self::described(error, std::any::type_name::<E>())
    }

    /// From an error behind a trait object, whose concrete type the caller names.
    pub fn from_dyn(error: &(dyn Error + 'static), error_type: &str) -> Self {
        Self::described(error, error_type)
    }

    fn described<E: Error + ?Sized>(error: &E, error_type: &str) -> Self {
        let backtrace = Backtrace::capture();
        let backtrace =
            (backtrace.status() == BacktraceStatus::Captured).then(|| backtrace.to_string());
        FailureReport {
            message: error.to_string(),
            error_type: error_type.to_owned(),
            chain: source_chain(error),
            backtrace,
        }
        .capped()
    }

    /// From a panic payload: its message when it is a string.
    pub fn from_panic(payload: &(dyn Any + Send)) -> Self {
        let message = if let Some(text) = payload.downcast_ref::<&str>() {
            (*text).to_owned()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            "the task panicked with a payload that is not a string".to_owned()
        };
        FailureReport {
            message: format!("panicked: {message}"),
            error_type: PANIC_TYPE.to_owned(),
            chain: None,
            backtrace: None,
        }
        .capped()
    }

    /// For a run whose future was dropped before it finished (cancelled or aborted).
    pub fn cancelled() -> Self {
        FailureReport {
            message: "the task was cancelled: its future was dropped before it finished".to_owned(),
            error_type: "cancelled".to_owned(),
            chain: None,
            backtrace: None,
        }
    }

    fn capped(self) -> Self {
        FailureReport {
            message: cap_text(self.message, MAX_TEXT_BYTES),
            error_type: cap_text(self.error_type, tasklens_model::limits::MAX_NAME_BYTES),
            // The deepest part of each is kept: the root cause ends the chain, while a Rust
            // backtrace starts with the innermost frame.
            chain: self.chain.map(|c| cap_text_end(c, MAX_TEXT_BYTES)),
            backtrace: self.backtrace.map(|b| cap_text(b, MAX_TEXT_BYTES)),
        }
    }
}

/// The Display of each source, one per line; `None` for an error without a source.
pub fn source_chain<E: Error + ?Sized>(error: &E) -> Option<String> {
    let mut lines = Vec::new();
    let mut next = error.source();
    // Bounded: a cyclic or absurdly deep chain must not stall the task.
    while let Some(cause) = next {
        if lines.len() == 64 {
            lines.push("…".to_owned());
            break;
        }
        lines.push(cause.to_string());
        next = cause.source();
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("OpenAI API rate limit exceeded")]
    struct RateLimited {
        #[source]
        source: Http,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("HTTP 429 Too Many Requests")]
    struct Http {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn an_error_gives_its_message_type_and_chain() {
        let error = RateLimited {
            source: Http {
                source: std::io::Error::other("retry after 20s"),
            },
        };
        let report = FailureReport::from_error(&error);
        assert_eq!(report.message, "OpenAI API rate limit exceeded");
        assert!(report.error_type.ends_with("RateLimited"), "{report:?}");
        assert_eq!(
            report.chain.as_deref(),
            Some("HTTP 429 Too Many Requests\nretry after 20s")
        );
        let plain = FailureReport::from_error(&std::io::Error::other("plain"));
        assert_eq!(plain.chain, None);
        assert_eq!(plain.error_type, "std::io::error::Error");
    }

    #[test]
    fn panic_payloads_become_messages() {
        let text: Box<dyn Any + Send> = Box::new("boom");
        assert_eq!(FailureReport::from_panic(&*text).message, "panicked: boom");
        let owned: Box<dyn Any + Send> = Box::new(String::from("index 3 out of range"));
        let report = FailureReport::from_panic(&*owned);
        assert_eq!(report.message, "panicked: index 3 out of range");
        assert_eq!(report.error_type, PANIC_TYPE);
        let other: Box<dyn Any + Send> = Box::new(42u8);
        assert!(
            FailureReport::from_panic(&*other)
                .message
                .contains("not a string")
        );
    }

    #[test]
    fn long_messages_are_capped() {
        let huge = std::io::Error::other("x".repeat(MAX_TEXT_BYTES * 3));
        let report = FailureReport::from_error(&huge);
        assert!(report.message.len() <= MAX_TEXT_BYTES);
        assert!(report.message.contains("truncated by tasklens"));
    }
}
