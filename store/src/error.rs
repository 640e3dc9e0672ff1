use tasklens_model::RuleViolation;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    Connect { target: String, reason: String },

    /// The embedded database file cannot be created or opened.
    #[error("cannot open the SQLite database at {path}: {reason}")]
    Open { path: String, reason: String },

    /// The database cannot be reached now; the same call may succeed later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),

    /// A row broke a rule enforced by the database (the constraint is named after the rule).
    #[error("the database refused a row: rule {rule} was broken")]
    RuleViolated { rule: String },

    /// A validation error for a whole batch, kept for callers that refuse rather than skip.
    #[error(transparent)]
    Invalid(#[from] RuleViolation),

    /// A query with arguments that make no sense (a start after its end...).
    #[error("invalid query: {0}")]
    InvalidQuery(String),

    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),

    /// The live-event source is gone (the store was dropped).
    #[error("the live event stream is closed")]
    LiveClosed,

    /// Live events were lost (a slow subscriber, a dropped connection).
    #[error("live events were missed")]
    LiveMissed,

    /// A value read from the database does not fit the model (a bug or a manual edit).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether retrying later can succeed (the collector answers "retry" to its senders).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Connect { .. })
    }
}

/// SQLite reports extended result codes: the primary code is the low byte.
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_CONSTRAINT_CHECK: i32 = 275;

fn from_sqlite(code: &str, message: &str, err: sqlx::Error) -> StoreError {
    let code: i32 = code.parse().unwrap_or_default();
    if code == SQLITE_CONSTRAINT_CHECK {
        // "CHECK constraint failed: <name>"; the constraints are named after the rules.
        let rule = message.rsplit(": ").next().unwrap_or("unknown");
        StoreError::RuleViolated {
            rule: rule.to_owned(),
        }
    } else if matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED) {
        // Another process holds the file longer than the busy timeout.
        StoreError::Unavailable(err)
    } else {
        StoreError::Database(err)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => StoreError::Unavailable(err),
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default().into_owned();
                if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    let message = db.message().to_owned();
                    return from_sqlite(&code, &message, err);
                }
                if code == "23514" {
                    StoreError::RuleViolated {
                        rule: db.constraint().unwrap_or("unknown").to_owned(),
                    }
                } else if code.starts_with("08") || code == "57P01" || code == "57P03" {
                    // connection exceptions, admin shutdown, cannot connect now
                    StoreError::Unavailable(err)
                } else {
                    StoreError::Database(err)
                }
            }
            _ => StoreError::Database(err),
        }
    }
}
