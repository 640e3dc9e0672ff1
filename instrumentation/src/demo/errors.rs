//! The errors the demo's tasks fail with: each failure of the catalogue as a Rust error with a
//! real source chain, as a Rust worker would report it.

use std::io;

use rand::Rng;
use serde_json::Value;

use super::catalogue::Failure;

/// An HTTP call that failed.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status} {reason} from {url}")]
pub struct HttpError {
    pub status: u16,
    pub reason: &'static str,
    pub url: &'static str,
    #[source]
    pub source: Option<io::Error>,
}

/// The errors of the demo's tasks, with real source chains.
#[derive(Debug, thiserror::Error)]
pub enum DemoTaskError {
    #[error("OpenAI API rate limit exceeded")]
    RateLimited {
        #[source]
        source: HttpError,
    },
    #[error("no answer from {url}")]
    ReadTimeout {
        url: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the task exceeded its time limit of {seconds} s")]
    TimeLimit {
        seconds: u32,
        #[source]
        source: io::Error,
    },
    #[error("no database connection")]
    DatabaseUnavailable {
        #[source]
        source: io::Error,
    },
    #[error("database query failed: {query}")]
    Database {
        query: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("Telegram API flood wait: retry in {seconds} s")]
    FloodWait {
        seconds: u32,
        #[source]
        source: HttpError,
    },
    #[error("the cache cannot be reached")]
    CacheUnavailable {
        #[source]
        source: io::Error,
    },
    #[error("the model's answer is not valid JSON")]
    InvalidModelOutput {
        #[source]
        source: serde_json::Error,
    },
    #[error("message not found")]
    NotFound {
        #[source]
        source: io::Error,
    },
}

/// Which error an attempt fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    RateLimited,
    ReadTimeout,
    TimeLimit,
    DatabaseUnavailable,
    Deadlock,
    UniqueViolation,
    /// The wait Telegram asks for, in seconds.
    FloodWait(u32),
    CacheUnavailable,
    InvalidModelOutput,
    NotFound,
}

impl FailureKind {
    /// The demo's rendering of a failure of the catalogue.
    pub fn of(failure: Failure, rng: &mut impl Rng) -> FailureKind {
        match failure {
            Failure::RateLimit => FailureKind::RateLimited,
            Failure::ReadTimeout => FailureKind::ReadTimeout,
            Failure::TimeLimit => FailureKind::TimeLimit,
            Failure::DbConnection => FailureKind::DatabaseUnavailable,
            Failure::Deadlock => FailureKind::Deadlock,
            Failure::UniqueViolation => FailureKind::UniqueViolation,
            Failure::FloodWait => FailureKind::FloodWait(rng.random_range(5..120)),
            Failure::Redis => FailureKind::CacheUnavailable,
            Failure::Validation => FailureKind::InvalidModelOutput,
            Failure::NotFound => FailureKind::NotFound,
        }
    }

    /// A transient failure is retried: the limits it hit lift after a while.
    pub fn is_transient(self) -> bool {
        matches!(self, FailureKind::RateLimited | FailureKind::FloodWait(_))
    }

    pub fn error(self) -> DemoTaskError {
        match self {
            FailureKind::RateLimited => DemoTaskError::RateLimited {
                source: HttpError {
                    status: 429,
                    reason: "Too Many Requests",
                    url: "https://api.openai.com/v1/chat/completions",
                    source: Some(io::Error::other(
                        "Rate limit reached for gpt-4o-mini: limit 500 RPM, used 500; retry after 20s",
                    )),
                },
            },
            FailureKind::ReadTimeout => DemoTaskError::ReadTimeout {
                url: "https://api.openai.com/v1/embeddings",
                source: io::Error::new(
                    io::ErrorKind::TimedOut,
                    "timed out after 30 s reading the response",
                ),
            },
            FailureKind::TimeLimit => DemoTaskError::TimeLimit {
                seconds: 300,
                source: io::Error::new(io::ErrorKind::TimedOut, "deadline has elapsed"),
            },
            FailureKind::DatabaseUnavailable => DemoTaskError::DatabaseUnavailable {
                source: io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "FATAL: remaining connection slots are reserved for roles with the \
                     SUPERUSER attribute",
                ),
            },
            FailureKind::Deadlock => DemoTaskError::Database {
                query: "UPDATE messages SET score = $1 WHERE id = $2",
                source: io::Error::other("deadlock detected"),
            },
            FailureKind::UniqueViolation => DemoTaskError::Database {
                query: "INSERT INTO message_scores (message_id, score) VALUES ($1, $2)",
                source: io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "duplicate key value violates unique constraint \
                     \"message_scores_message_id_key\"",
                ),
            },
            FailureKind::FloodWait(seconds) => DemoTaskError::FloodWait {
                seconds,
                source: HttpError {
                    status: 420,
                    reason: "FLOOD_WAIT",
                    url: "https://api.telegram.org/messages.getHistory",
                    source: None,
                },
            },
            FailureKind::CacheUnavailable => DemoTaskError::CacheUnavailable {
                source: io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "Error 111 connecting to redis:6379. Connection refused.",
                ),
            },
            FailureKind::InvalidModelOutput => {
                match serde_json::from_str::<Value>(r#"{"score": 0.87, "reason": "spam"#) {
                    Err(source) => DemoTaskError::InvalidModelOutput { source },
                    Ok(_) => FailureKind::NotFound.error(),
                }
            }
            FailureKind::NotFound => DemoTaskError::NotFound {
                source: io::Error::new(io::ErrorKind::NotFound, "the query returned no rows"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::catalogue::TASK_TYPES;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn failures_have_source_chains() {
        for kind in [
            FailureKind::RateLimited,
            FailureKind::ReadTimeout,
            FailureKind::TimeLimit,
            FailureKind::DatabaseUnavailable,
            FailureKind::Deadlock,
            FailureKind::UniqueViolation,
            FailureKind::FloodWait(30),
            FailureKind::CacheUnavailable,
            FailureKind::InvalidModelOutput,
            FailureKind::NotFound,
        ] {
            let error = kind.error();
            assert!(
                crate::failure::source_chain(&error).is_some(),
                "{kind:?} has a cause"
            );
        }
        let chain = crate::failure::source_chain(&FailureKind::RateLimited.error());
        assert_eq!(
            chain.as_deref(),
            Some(
                "HTTP 429 Too Many Requests from https://api.openai.com/v1/chat/completions\n\
                 Rate limit reached for gpt-4o-mini: limit 500 RPM, used 500; retry after 20s"
            )
        );
    }

    #[test]
    fn every_failure_of_the_catalogue_has_a_rendering() {
        let mut rng = StdRng::seed_from_u64(4);
        for failure in TASK_TYPES.iter().flat_map(|task| task.errors) {
            let error = FailureKind::of(*failure, &mut rng).error();
            assert!(
                crate::failure::source_chain(&error).is_some(),
                "{failure:?}"
            );
        }
    }
}
