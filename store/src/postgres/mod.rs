//! [`PgStore`]: the store on PostgreSQL.

mod bulk;
mod copy;
mod groups;
mod joins;
mod live;
mod maintenance;
mod rebuild;
mod rollups;
mod rows;
mod search;
mod stats;
mod write;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::backend::Backend;
use crate::core::joins::JoinBatch;
use crate::core::stuck::LearnedP99s;
use crate::error::StoreError;
use crate::live::LiveSubscription;
use crate::maintenance::{MaintenanceReport, RetentionPolicy, StorageStats};
use crate::query::{HistoryPage, HistoryQuery};
use crate::runs::{RunChange, StoredRun};
use live::PgLiveListener;
use rows::Pg;
use tasklens_model::RuleViolation;

/// Connection settings.
#[derive(Debug, Clone)]
pub struct PgStoreOptions {
    pub max_connections: u32,
    /// How long a caller waits for a connection before the database counts as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for PgStoreOptions {
    fn default() -> Self {
        PgStoreOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The task-run store on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    learned_p99s: Arc<LearnedP99s>,
}

/// A database URL with its password replaced, safe to print.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

fn connect_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    let invalid = |reason: String| StoreError::InvalidUrl {
        url: redact_url(url),
        reason,
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(invalid(
            "expected postgres://user[:password]@host[:port]/database".into(),
        ));
    }
    let options = PgConnectOptions::from_str(url).map_err(|e| invalid(e.to_string()))?;
    // Queries are built from optional filters, and data is skewed (few failed runs, many
    // successes): a plan made for the actual values beats a generic one. JIT compilation costs
    // more than these short queries take. The free-text (GIN) indexes queue a write's entries
    // in a pending list that the collector folds in the background (`fold_search_backlog`); a
    // write that finds the list over its limit folds it inline instead, so the limit is set
    // above what arrives between two background folds (4 MB by default).
    Ok(options
        .options([
            ("plan_cache_mode", "force_custom_plan"),
            ("jit", "off"),
            ("gin_pending_list_limit", "16MB"),
        ])
        .log_statements(tracing::log::LevelFilter::Trace))
}

impl PgStore {
    /// Connects, checking at once that the database answers.
    pub async fn connect(url: &str, options: &PgStoreOptions) -> Result<Self, StoreError> {
        let connect = connect_options(url)?;
        let target = format!(
            "{}:{}/{}",
            connect.get_host(),
            connect.get_port(),
            connect.get_database().unwrap_or("postgres")
        );
        // One direct connection first: it reports the real reason (refused, unknown host, bad
        // password, no such database) where a pool would only say that it timed out.
        let probe = tokio::time::timeout(options.acquire_timeout, connect.connect()).await;
        let fail = |reason: String| StoreError::Connect {
            target: target.clone(),
            reason,
        };
        match probe {
            Err(_) => {
                return Err(fail(format!(
                    "no answer within {} s",
                    options.acquire_timeout.as_secs()
                )));
            }
            Ok(Err(err)) => return Err(fail(err.to_string())),
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect);
        Ok(Self::from_pool(pool))
    }

    /// Creates the URL's database when the server answers that it does not exist (connecting to
    /// the server's `postgres` database to do so). Returns whether it created it.
    pub async fn create_database_if_missing(url: &str) -> Result<bool, StoreError> {
        let connect = connect_options(url)?;
        let Some(name) = connect.get_database().map(str::to_owned) else {
            return Ok(false);
        };
        match connect.connect().await {
            Ok(conn) => {
                let _ = conn.close().await;
                return Ok(false);
            }
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("3D000") => {}
            // Anything else is reported by `connect` with its real reason.
            Err(_) => return Ok(false),
        }
        let target = format!("{}:{}/postgres", connect.get_host(), connect.get_port());
        let mut admin = connect
            .clone()
            .database("postgres")
            .connect()
            .await
            .map_err(|e| StoreError::Connect {
                target,
                reason: e.to_string(),
            })?;
        // A database name cannot be a bind parameter; quote it as an identifier.
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut admin)
            .await?;
        let _ = admin.close().await;
        Ok(true)
    }

    /// Wraps an existing pool (tests get one per database from `#[sqlx::test]`).
    pub fn from_pool(pool: PgPool) -> Self {
        PgStore {
            pool,
            learned_p99s: Arc::default(),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Reserves `n` ids for runs built outside the store (bulk imports).
    pub async fn reserve_ids(&self, n: usize) -> Result<Vec<i64>, StoreError> {
        bulk::reserve_ids(&self.pool, n).await
    }

    /// Binary COPY of rows into `task_execution_logs` and nothing else: no identity, no
    /// rollups, no merge. The baseline the benchmark compares batched writes with.
    pub async fn copy_rows(&self, runs: &[StoredRun]) -> Result<u64, StoreError> {
        bulk::copy_rows(&self.pool, runs).await
    }

    /// Imports runs the store has never seen (a backfill) by binary COPY, with their identities
    /// and rollups, in one transaction. Later events of these runs merge as usual.
    pub async fn import_runs(&self, runs: &[StoredRun]) -> Result<u64, StoreError> {
        bulk::import_runs(&self.pool, runs).await
    }

    /// Disk used by runs, their indexes, identities and rollups.
    pub async fn storage_stats(&self) -> Result<StorageStats, StoreError> {
        stats::storage_stats(&self.pool).await
    }

    /// Applies the migrations in `migrations/` that the database has not seen yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("../migrations").run(&self.pool).await?;
        rebuild::rebuild_rollups(&self.pool).await?;
        Ok(())
    }
}

#[async_trait]
impl Backend for PgStore {
    type Dialect = Pg;

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn learned_p99s(&self) -> &LearnedP99s {
        &self.learned_p99s
    }

    async fn write_runs(
        &self,
        batch: JoinBatch,
    ) -> Result<(Vec<RunChange>, Vec<RuleViolation>), StoreError> {
        write::write_runs(&self.pool, batch).await
    }

    async fn text_history(&self, query: &HistoryQuery) -> Result<HistoryPage, StoreError> {
        search::text_history(&self.pool, query).await
    }

    async fn maintain(&self, policy: &RetentionPolicy) -> Result<MaintenanceReport, StoreError> {
        maintenance::maintain(&self.pool, policy).await
    }

    async fn subscribe(&self) -> Result<LiveSubscription, StoreError> {
        Ok(LiveSubscription::new(
            PgLiveListener::new(&self.pool).await?,
        ))
    }

    async fn fold_search_backlog(&self) -> Result<u64, StoreError> {
        maintenance::fold_search_backlog(&self.pool).await
    }

    async fn set_group_state(
        &self,
        id: i64,
        state: crate::ErrorGroupState,
    ) -> Result<Option<crate::ErrorGroup>, StoreError> {
        crate::sql::groups::set_group_state::<Self::Dialect>(
            &self.pool,
            id,
            state,
            crate::core::batch::batch_time(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/tasklens"),
            "postgres://app:***@db:5432/tasklens"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
    }

    #[test]
    fn a_url_of_another_database_is_refused_with_the_expected_shape() {
        let err = connect_options("mysql://root@localhost/db").expect_err("refused");
        assert!(err.to_string().contains("expected postgres://"), "{err}");
    }
}
