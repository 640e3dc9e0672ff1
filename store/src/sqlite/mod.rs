//! [`SqliteStore`]: the store embedded in one file, for a single process (`tasklens up` without
//! a database). Same trait, same rules and the same test suite as [`crate::PgStore`]; what
//! differs is the storage: no partitions (retention deletes in batches), one writer at a time,
//! live events inside the process.

mod groups;
mod maintenance;
mod rebuild;
mod rows;
mod search;
mod write;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::Mutex;

use crate::backend::Backend;
use tasklens_model::RuleViolation;

use crate::core::batch::merge_incoming;
use crate::core::joins::{self, JoinBatch};
use crate::core::joins_memory::MemoryJoins;
use crate::core::stuck::LearnedP99s;
use crate::error::StoreError;
use crate::live::{LiveSubscription, LocalLiveHub};
use crate::maintenance::{MaintenanceReport, RetentionPolicy};
use crate::query::{HistoryPage, HistoryQuery};
use crate::runs::RunChange;
use rows::Lite;

/// Settings of an embedded store.
#[derive(Debug, Clone)]
pub struct SqliteStoreOptions {
    /// Connections in the pool: readers run in parallel with the one writer (WAL).
    pub max_connections: u32,
    /// How long a statement waits for another process holding the file before failing.
    pub busy_timeout: Duration,
    /// Retention deletes at most this many rows per transaction.
    pub retention_batch_rows: u32,
    /// Batches a live subscriber may fall behind before it is told it missed events.
    pub live_capacity: usize,
}

impl Default for SqliteStoreOptions {
    fn default() -> Self {
        SqliteStoreOptions {
            max_connections: 4,
            busy_timeout: Duration::from_secs(5),
            retention_batch_rows: 5_000,
            live_capacity: 1024,
        }
    }
}

/// The task-run store in a SQLite file.
///
/// SQLite allows one writer at a time: batch writes and retention batches take turns on a lock
/// here, so concurrent callers wait instead of failing with `SQLITE_BUSY`; queries read from
/// other connections meanwhile (WAL). Live events reach subscribers of this process only.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: Arc<Mutex<()>>,
    maintenance: Arc<Mutex<()>>,
    live: LocalLiveHub,
    retention_batch_rows: i64,
    /// What this process remembers of spans for joins (`core/joins.rs`).
    joins: Arc<Mutex<MemoryJoins>>,
    learned_p99s: Arc<LearnedP99s>,
}

/// Spans an embedded store remembers for joins (as many as the collector's join caches did).
const JOIN_CAPACITY: usize = 100_000;

impl SqliteStore {
    /// Opens the database at `path` with the default options, creating the file and its
    /// directory when missing, and applies the migrations it has not seen yet.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, &SqliteStoreOptions::default()).await
    }

    pub async fn open_with(path: &Path, options: &SqliteStoreOptions) -> Result<Self, StoreError> {
        let fail = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| fail(format!("cannot create {}: {e}", parent.display())))?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL is safe against corruption; a power loss may lose the last
            // commits, not the file.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .connect_with(connect)
            .await
            .map_err(|e| fail(e.to_string()))?;
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        rebuild::rebuild_rollups(&pool).await?;
        Ok(SqliteStore {
            pool,
            writer: Arc::new(Mutex::new(())),
            maintenance: Arc::new(Mutex::new(())),
            live: LocalLiveHub::new(options.live_capacity),
            retention_batch_rows: i64::from(options.retention_batch_rows.max(1)),
            joins: Arc::new(Mutex::new(MemoryJoins::new(JOIN_CAPACITY))),
            learned_p99s: Arc::default(),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection (checkpointing the WAL into the file).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Backend for SqliteStore {
    type Dialect = Lite;

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn learned_p99s(&self) -> &LearnedP99s {
        &self.learned_p99s
    }

    /// The joins are resolved in this process's memory (one process writes an embedded store),
    /// under the writer lock, and kept only once the batch committed.
    async fn write_runs(
        &self,
        batch: JoinBatch,
    ) -> Result<(Vec<RunChange>, Vec<RuleViolation>), StoreError> {
        let _writing = self.writer.lock().await;
        let (events, rows) = if batch.has_joins() {
            let mut rows = self.joins.lock().await.rows_for(&batch);
            (joins::resolve(batch, &mut rows), Some(rows))
        } else {
            (batch.events, None)
        };
        let (incoming, rejected) = merge_incoming(events);
        let changes = if incoming.is_empty() {
            Vec::new()
        } else {
            write::write_runs(&self.pool, &self.live, incoming).await?
        };
        if let Some(rows) = rows {
            self.joins.lock().await.keep(rows);
        }
        Ok((changes, rejected))
    }

    async fn text_history(&self, query: &HistoryQuery) -> Result<HistoryPage, StoreError> {
        search::text_history(&self.pool, query).await
    }

    async fn maintain(&self, policy: &RetentionPolicy) -> Result<MaintenanceReport, StoreError> {
        let Ok(_maintaining) = self.maintenance.try_lock() else {
            return Ok(MaintenanceReport {
                skipped: true,
                ..MaintenanceReport::default()
            });
        };
        maintenance::maintain(&self.pool, &self.writer, policy, self.retention_batch_rows).await
    }

    async fn subscribe(&self) -> Result<LiveSubscription, StoreError> {
        Ok(self.live.subscribe())
    }

    /// SQLite's indexes take their entries at once; none wait to be folded.
    async fn fold_search_backlog(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn set_group_state(
        &self,
        id: i64,
        state: crate::ErrorGroupState,
    ) -> Result<Option<crate::ErrorGroup>, StoreError> {
        let _writing = self.writer.lock().await;
        crate::sql::groups::set_group_state::<Self::Dialect>(
            &self.pool,
            id,
            state,
            crate::core::batch::batch_time(),
        )
        .await
    }
}
