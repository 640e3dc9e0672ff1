//! Realistic task runs: the seed's ten task types with their own frequencies, durations, params
//! and failures, and the `generate` command that loads days of them into the store.
//!
//! Everything random comes from one seeded [`StdRng`] per day, so the same seed gives the same
//! runs (task ids, statuses, durations, errors); only the dates follow the clock.

use std::fmt::Write as _;
use std::thread;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tasklens_model::{RunKey, RunState, SourceSystem, TaskRunEvent, TaskStatus};
use tasklens_store::{PgStore, RetentionPolicy, StoredRun, TaskStore};
use tokio::sync::mpsc;

/// Runs imported per `import_runs` call.
pub const IMPORT_CHUNK: usize = 50_000;
/// Share of a failed run's task ids that are retried (attempt + 1): with ~4% failures, ~1% of
/// runs are retries.
const RETRY_PROBABILITY: f64 = 0.25;
/// Highest attempt number generated.
const MAX_ATTEMPT: i32 = 2;
/// Share of the runs created in the last hour that are still pending or running (stuck behind
/// busy workers), on top of the runs whose natural end lies after "now".
const IN_FLIGHT_SHARE: f64 = 0.01;

/// What can go wrong in a run; each kind has its own exception type, message and stack.
#[derive(Debug, Clone, Copy)]
enum ErrorKind {
    RateLimit,
    ReadTimeout,
    TimeLimit,
    DbConnection,
    Deadlock,
    UniqueViolation,
    FloodWait,
    Redis,
    Validation,
    NotFound,
}

/// How one task type behaves.
#[derive(Debug)]
struct TaskProfile {
    name: &'static str,
    /// Share of all runs; the weights of all profiles sum to 1.
    weight: f64,
    /// Median duration in ms and the spread (sigma of the log) of the log-normal around it.
    median_ms: f64,
    sigma: f64,
    failure_rate: f64,
    queue: &'static str,
    service: &'static str,
    /// Where the task function sits in the application, for tracebacks.
    module: &'static str,
    line: u32,
    call: &'static str,
    /// What goes wrong, repeated entries being more frequent.
    errors: &'static [ErrorKind],
}

use ErrorKind::{
    DbConnection, Deadlock, FloodWait, NotFound, RateLimit, ReadTimeout, Redis, TimeLimit,
    UniqueViolation, Validation,
};

const PROFILES: [TaskProfile; 10] = [
    TaskProfile {
        name: "score_message",
        weight: 0.38,
        median_ms: 900.0,
        sigma: 0.55,
        failure_rate: 0.045,
        queue: "llm",
        service: "llm-worker",
        module: "scoring",
        line: 88,
        call: "score = await scorer.score(message_id=message_id)",
        errors: &[
            RateLimit,
            RateLimit,
            RateLimit,
            ReadTimeout,
            DbConnection,
            UniqueViolation,
            NotFound,
            Redis,
        ],
    },
    TaskProfile {
        name: "embed_messages_batch",
        weight: 0.18,
        median_ms: 1400.0,
        sigma: 0.5,
        failure_rate: 0.03,
        queue: "embeddings",
        service: "embedding-worker",
        module: "embeddings",
        line: 54,
        call: "vectors = await embedder.embed_messages(message_ids, model=model)",
        errors: &[RateLimit, RateLimit, ReadTimeout, DbConnection, Deadlock],
    },
    TaskProfile {
        name: "ingest_telegram_messages",
        weight: 0.16,
        median_ms: 180.0,
        sigma: 0.9,
        failure_rate: 0.035,
        queue: "ingest",
        service: "telegram-worker",
        module: "ingest",
        line: 41,
        call: "count = await reader.fetch_history(chat_id, min_id=min_id, limit=limit)",
        errors: &[FloodWait, FloodWait, DbConnection, UniqueViolation, Redis],
    },
    TaskProfile {
        name: "embed_atoms_batch",
        weight: 0.12,
        median_ms: 1900.0,
        sigma: 0.5,
        failure_rate: 0.03,
        queue: "embeddings",
        service: "embedding-worker",
        module: "embeddings",
        line: 97,
        call: "vectors = await embedder.embed_atoms(atom_ids, model=model)",
        errors: &[RateLimit, ReadTimeout, ReadTimeout, DbConnection, Deadlock],
    },
    TaskProfile {
        name: "extract_knowledge_from_messages",
        weight: 0.09,
        median_ms: 9000.0,
        sigma: 0.7,
        failure_rate: 0.06,
        queue: "llm",
        service: "llm-worker",
        module: "knowledge",
        line: 133,
        call: "atoms = await extractor.extract(message_ids, provider=provider)",
        errors: &[RateLimit, RateLimit, Validation, TimeLimit, DbConnection],
    },
    TaskProfile {
        name: "score_unscored_messages",
        weight: 0.04,
        median_ms: 4500.0,
        sigma: 0.6,
        failure_rate: 0.04,
        queue: "llm",
        service: "llm-worker",
        module: "scoring",
        line: 121,
        call: "queued = await scorer.enqueue_unscored(limit=limit)",
        errors: &[RateLimit, TimeLimit, DbConnection],
    },
    TaskProfile {
        name: "scheduled_knowledge_extraction",
        weight: 0.015,
        median_ms: 40_000.0,
        sigma: 0.5,
        failure_rate: 0.05,
        queue: "scheduler",
        service: "scheduler-worker",
        module: "scheduled",
        line: 37,
        call: "await knowledge.run_extraction(lookback=timedelta(hours=lookback_hours))",
        errors: &[TimeLimit, TimeLimit, DbConnection, Redis, Deadlock],
    },
    TaskProfile {
        name: "scheduled_auto_approval",
        weight: 0.01,
        median_ms: 350.0,
        sigma: 0.6,
        failure_rate: 0.02,
        queue: "scheduler",
        service: "scheduler-worker",
        module: "scheduled",
        line: 64,
        call: "approved = await approvals.auto_approve(min_confidence=min_confidence)",
        errors: &[DbConnection, Deadlock, Redis],
    },
    TaskProfile {
        name: "scheduled_notification_alert",
        weight: 0.004,
        median_ms: 60.0,
        sigma: 0.7,
        failure_rate: 0.02,
        queue: "scheduler",
        service: "scheduler-worker",
        module: "scheduled",
        line: 92,
        call: "await notifier.send_alerts(channel=channel, threshold=threshold)",
        errors: &[Redis, DbConnection, FloodWait],
    },
    TaskProfile {
        name: "scheduled_daily_digest",
        weight: 0.001,
        median_ms: 75_000.0,
        sigma: 0.35,
        failure_rate: 0.03,
        queue: "scheduler",
        service: "scheduler-worker",
        module: "scheduled",
        line: 118,
        call: "digest = await digests.build_and_send(day=date, recipients=recipients)",
        errors: &[TimeLimit, RateLimit, DbConnection],
    },
];

const TRACEBACK_HEAD: &str = "Traceback (most recent call last):
  File \"/usr/local/lib/python3.12/site-packages/taskiq/receiver/receiver.py\", line 292, in run_task
    returns = await target_future
              ^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/taskiq/decor.py\", line 181, in __call__
    return await self.original_func(*args, **kwargs)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
";

const LLM_FRAMES: &str = "  File \"/app/src/app/services/llm_client.py\", line 143, in complete
    response = await self._client.chat.completions.create(
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/openai/resources/chat/completions/completions.py\", line 2454, in create
    return await self._post(
           ^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/openai/_base_client.py\", line 1784, in post
    return await self.request(cast_to, opts, stream=stream, stream_cls=stream_cls)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/openai/_base_client.py\", line 1584, in request
    raise self._make_status_error_from_response(err.response) from None
";

const HTTP_FRAMES: &str = "  File \"/app/src/app/services/embeddings.py\", line 77, in embed_texts
    resp = await self._http.post(\"/v1/embeddings\", json=payload, timeout=30.0)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/httpx/_client.py\", line 1859, in post
    return await self.request(
           ^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/httpx/_client.py\", line 1540, in request
    return await self.send(request, auth=auth, follow_redirects=follow_redirects)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/httpx/_transports/default.py\", line 118, in map_httpcore_exceptions
    raise mapped_exc(message) from exc
";

const TIMEOUT_FRAMES: &str = "  File \"/app/src/app/services/knowledge.py\", line 212, in run_extraction
    async with asyncio.timeout(settings.task_time_limit):
  File \"/app/src/app/services/knowledge.py\", line 188, in _extract_batch
    result = await self._llm.complete(prompt, schema=ExtractedKnowledge)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/app/src/app/services/llm_client.py\", line 151, in complete
    async for chunk in stream:
  File \"/usr/local/lib/python3.12/site-packages/openai/_streaming.py\", line 147, in __aiter__
    async for item in self._iterator:
  File \"/usr/local/lib/python3.12/site-packages/httpcore/_async/http11.py\", line 217, in _receive_event
    data = await self._network_stream.read(self.READ_NUM_BYTES, timeout=timeout)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/asyncio/timeouts.py\", line 115, in __aexit__
    raise TimeoutError from exc_val
";

const DB_CONNECT_FRAMES: &str = "  File \"/app/src/app/db/session.py\", line 41, in session_scope
    async with self._engine.begin() as conn:
  File \"/usr/local/lib/python3.12/site-packages/sqlalchemy/ext/asyncio/engine.py\", line 1063, in begin
    async with conn:
  File \"/usr/local/lib/python3.12/site-packages/sqlalchemy/ext/asyncio/base.py\", line 121, in __aenter__
    return await self.start(is_ctxmanager=True)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/sqlalchemy/util/_concurrency_py3k.py\", line 201, in greenlet_spawn
    result = context.throw(*sys.exc_info())
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/psycopg/connection_async.py\", line 135, in connect
    raise last_ex.with_traceback(None)
";

const DB_EXECUTE_FRAMES: &str = "  File \"/app/src/app/repositories/base.py\", line 96, in upsert_many
    await session.execute(stmt)
  File \"/usr/local/lib/python3.12/site-packages/sqlalchemy/ext/asyncio/session.py\", line 463, in execute
    result = await greenlet_spawn(
             ^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/sqlalchemy/engine/base.py\", line 1967, in _exec_single_context
    self.dialect.do_execute(
  File \"/usr/local/lib/python3.12/site-packages/sqlalchemy/engine/default.py\", line 941, in do_execute
    cursor.execute(statement, parameters)
  File \"/usr/local/lib/python3.12/site-packages/psycopg/cursor_async.py\", line 97, in execute
    raise ex.with_traceback(None)
";

const TELEGRAM_FRAMES: &str = "  File \"/app/src/app/telegram/reader.py\", line 64, in fetch_history
    async for message in self._client.iter_messages(chat_id, min_id=min_id, limit=limit):
  File \"/usr/local/lib/python3.12/site-packages/telethon/requestiter.py\", line 58, in __anext__
    if await self._load_next_chunk():
       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/telethon/client/messages.py\", line 192, in _load_next_chunk
    r = await self.client(self.request)
        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/telethon/client/users.py\", line 87, in _call
    raise e
  File \"/usr/local/lib/python3.12/site-packages/telethon/client/users.py\", line 57, in _call
    result = await future
             ^^^^^^^^^^^^
";

const REDIS_FRAMES: &str = "  File \"/app/src/app/cache.py\", line 33, in get_cached
    value = await self._redis.get(key)
            ^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/redis/asyncio/client.py\", line 611, in execute_command
    conn = self.connection or await pool.get_connection(command_name, **options)
                              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/redis/asyncio/connection.py\", line 1058, in get_connection
    await connection.connect()
  File \"/usr/local/lib/python3.12/site-packages/redis/asyncio/connection.py\", line 289, in connect
    raise ConnectionError(self._error_message(e))
";

const VALIDATION_FRAMES: &str = "  File \"/app/src/app/services/knowledge.py\", line 188, in _extract_batch
    result = await self._llm.complete(prompt, schema=ExtractedKnowledge)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/app/src/app/services/llm_client.py\", line 166, in complete
    return schema.model_validate_json(response.choices[0].message.content)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.12/site-packages/pydantic/main.py\", line 656, in model_validate_json
    return cls.__pydantic_validator__.validate_json(json_data, strict=strict, context=context)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
";

const NOT_FOUND_FRAMES: &str =
    "  File \"/app/src/app/repositories/messages.py\", line 58, in get_or_raise
    raise MessageNotFound(message_id=message_id, chat_id=chat_id)
  File \"/app/src/app/repositories/messages.py\", line 31, in get
    row = await session.scalar(select(Message).where(Message.id == message_id))
          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
";

/// A run as generated: its state and the time tasklens first heard of it. The id comes later,
/// from [`PgStore::reserve_ids`].
#[derive(Debug, Clone)]
pub struct GeneratedRun {
    pub created_at: DateTime<Utc>,
    pub state: RunState,
}

impl GeneratedRun {
    /// The row the store keeps for this run.
    pub fn stored(self, id: i64) -> StoredRun {
        let s = &self.state;
        let updated_at = s.completed_at.or(s.started_at).unwrap_or(self.created_at);
        StoredRun {
            id,
            created_at: self.created_at,
            updated_at,
            state: self.state,
        }
    }

    /// The single report a span exporter sends when the run ends (its whole state).
    pub fn finished_event(&self) -> TaskRunEvent {
        TaskRunEvent {
            observed_at: self.created_at,
            run: self.state.clone(),
        }
    }

    /// The three reports of a run's lifecycle: enqueued, started, finished.
    pub fn lifecycle_events(&self) -> [TaskRunEvent; 3] {
        let s = &self.state;
        let base = |status| RunState::new(s.key(), s.task_name.clone(), status);
        let pending = RunState {
            enqueued_at: s.enqueued_at,
            params: s.params.clone(),
            queue: s.queue.clone(),
            trace_id: s.trace_id,
            ..base(TaskStatus::Pending)
        };
        let running = RunState {
            started_at: s.started_at,
            trace_id: s.trace_id,
            span_id: s.span_id,
            service_name: s.service_name.clone(),
            worker_host: s.worker_host.clone(),
            ..base(TaskStatus::Running)
        };
        let started = s.started_at.unwrap_or(self.created_at);
        [
            TaskRunEvent {
                observed_at: self.created_at,
                run: pending,
            },
            TaskRunEvent {
                observed_at: started,
                run: running,
            },
            TaskRunEvent {
                observed_at: s.completed_at.unwrap_or(started),
                run: s.clone(),
            },
        ]
    }
}

/// Makes runs. Deterministic for a given seed and sequence of calls.
#[derive(Debug)]
pub struct RunGenerator {
    rng: StdRng,
    /// Cumulative profile weights, for picking a task type.
    cumulative: Vec<f64>,
}

fn millis(ms: f64) -> TimeDelta {
    // Whole microseconds: the store's precision.
    #[allow(clippy::cast_possible_truncation)]
    TimeDelta::microseconds((ms * 1000.0).round() as i64)
}

fn hex(rng: &mut StdRng, len: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdef";
    (0..len)
        .map(|_| char::from(DIGITS[rng.random_range(0..DIGITS.len())]))
        .collect()
}

impl RunGenerator {
    pub fn new(seed: u64) -> Self {
        let mut total = 0.0;
        let cumulative = PROFILES
            .iter()
            .map(|p| {
                total += p.weight;
                total
            })
            .collect();
        RunGenerator {
            rng: StdRng::seed_from_u64(seed),
            cumulative,
        }
    }

    fn profile(&mut self) -> &'static TaskProfile {
        let x: f64 = self.rng.random::<f64>() * self.cumulative.last().copied().unwrap_or(1.0);
        let index = self
            .cumulative
            .iter()
            .position(|&c| x < c)
            .unwrap_or(PROFILES.len() - 1);
        &PROFILES[index]
    }

    /// A standard normal draw (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.rng.random::<f64>(); // (0, 1]
        let u2 = self.rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal around `median`, clamped to `[min, max]`.
    fn log_normal(&mut self, median: f64, sigma: f64, min: f64, max: f64) -> f64 {
        (median * (sigma * self.normal()).exp()).clamp(min, max)
    }

    /// A random UUID v4 from the seeded generator (reproducible, unlike `Uuid::new_v4`).
    fn task_id(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    fn id(&mut self) -> i64 {
        self.rng.random_range(1_000_000..48_000_000)
    }

    fn ids(&mut self, min: usize, max: usize) -> Value {
        let first = self.id();
        let n = self.rng.random_range(min..=max);
        let mut next = first;
        let ids: Vec<i64> = (0..n)
            .map(|_| {
                next += self.rng.random_range(1..40);
                next
            })
            .collect();
        json!(ids)
    }

    fn chat_id(&mut self) -> i64 {
        -1_001_000_000_000 - self.rng.random_range(0..60) * 7_919_113
    }

    fn params(&mut self, profile: &TaskProfile, created_at: DateTime<Utc>) -> Value {
        match profile.name {
            "ingest_telegram_messages" => json!({
                "chat_id": self.chat_id(),
                "min_id": self.rng.random_range(100_000..2_000_000),
                "limit": 200,
            }),
            "embed_messages_batch" => json!({
                "message_ids": self.ids(4, 12),
                "model": "text-embedding-3-small",
            }),
            "embed_atoms_batch" => json!({
                "atom_ids": self.ids(4, 12),
                "model": "text-embedding-3-small",
            }),
            "score_message" => json!({ "message_id": self.id() }),
            "score_unscored_messages" => json!({ "limit": 500 }),
            "extract_knowledge_from_messages" => json!({
                "message_ids": self.ids(3, 8),
                "provider": "openai",
                "model": "gpt-4o-mini",
            }),
            "scheduled_knowledge_extraction" => json!({
                "lookback_hours": 6,
                "scheduled_at": created_at.format("%Y-%m-%dT%H:%M:00Z").to_string(),
            }),
            "scheduled_auto_approval" => json!({ "min_confidence": 0.85, "dry_run": false }),
            "scheduled_notification_alert" => json!({
                "channel": "telegram",
                "threshold": self.rng.random_range(5..20),
            }),
            _ => json!({
                "date": created_at.format("%Y-%m-%d").to_string(),
                "recipients": self.rng.random_range(1..6),
            }),
        }
    }

    /// Exception type, message (with ids in it) and library frames of one failure.
    fn error(&mut self, kind: ErrorKind, params: &Value) -> (&'static str, String, &'static str) {
        let message_id = params
            .get("message_id")
            .and_then(Value::as_i64)
            .unwrap_or_else(|| self.id());
        match kind {
            RateLimit => {
                let message = if self.rng.random_bool(0.3) {
                    format!("OpenAI API rate limit exceeded for message {message_id}")
                } else {
                    format!(
                        "Error code: 429 - Rate limit reached for gpt-4o-mini in organization \
                         org-{} on tokens per min (TPM): Limit 200000, Used {}, Requested {}. \
                         Please try again in {}ms.",
                        hex(&mut self.rng, 12),
                        self.rng.random_range(195_000..200_000),
                        self.rng.random_range(300..6_000),
                        self.rng.random_range(20..4_000)
                    )
                };
                ("openai.RateLimitError", message, LLM_FRAMES)
            }
            ReadTimeout => (
                "httpx.ReadTimeout",
                format!(
                    "timed out after 30.0s reading https://api.openai.com/v1/embeddings \
                     (batch of {} items, first id {})",
                    self.rng.random_range(4..64),
                    message_id
                ),
                HTTP_FRAMES,
            ),
            TimeLimit => (
                "TimeoutError",
                format!(
                    "task exceeded its time limit of {}s while processing batch {}",
                    [120, 300, 600][self.rng.random_range(0..3)],
                    message_id
                ),
                TIMEOUT_FRAMES,
            ),
            DbConnection => (
                "sqlalchemy.exc.OperationalError",
                format!(
                    "(psycopg.OperationalError) connection to server at \"10.0.3.{}\", port 5432 \
                     failed: FATAL:  remaining connection slots are reserved for roles with the \
                     SUPERUSER attribute (pid {})",
                    self.rng.random_range(10..14),
                    self.rng.random_range(1_000..99_999)
                ),
                DB_CONNECT_FRAMES,
            ),
            Deadlock => (
                "sqlalchemy.exc.DBAPIError",
                format!(
                    "(psycopg.errors.DeadlockDetected) deadlock detected DETAIL: Process {} \
                     waits for ShareLock on transaction {}; blocked by process {}.",
                    self.rng.random_range(1_000..99_999),
                    self.rng.random_range(10_000_000..99_999_999),
                    self.rng.random_range(1_000..99_999)
                ),
                DB_EXECUTE_FRAMES,
            ),
            UniqueViolation => (
                "sqlalchemy.exc.IntegrityError",
                format!(
                    "(psycopg.errors.UniqueViolation) duplicate key value violates unique \
                     constraint \"message_scores_message_id_key\" DETAIL: Key (message_id)=({message_id}) \
                     already exists."
                ),
                DB_EXECUTE_FRAMES,
            ),
            FloodWait => (
                "telethon.errors.rpcerrorlist.FloodWaitError",
                format!(
                    "A wait of {} seconds is required (caused by GetHistoryRequest) for chat {}",
                    self.rng.random_range(3..400),
                    self.chat_id()
                ),
                TELEGRAM_FRAMES,
            ),
            Redis => (
                "redis.exceptions.ConnectionError",
                format!(
                    "Error 111 connecting to redis:6379. Connection refused. (key msg:{message_id}:score)"
                ),
                REDIS_FRAMES,
            ),
            Validation => (
                "pydantic_core._pydantic_core.ValidationError",
                format!(
                    "1 validation error for ExtractedKnowledge atoms.{}.confidence Input should \
                     be less than or equal to 1 [type=less_than_equal, input_value={}.{}, \
                     input_type=float] (message {message_id})",
                    self.rng.random_range(0..12),
                    self.rng.random_range(1..4),
                    self.rng.random_range(0..100)
                ),
                VALIDATION_FRAMES,
            ),
            NotFound => (
                "app.errors.MessageNotFound",
                format!(
                    "message {message_id} not found in chat {} (deleted before scoring?)",
                    self.chat_id()
                ),
                NOT_FOUND_FRAMES,
            ),
        }
    }

    fn traceback(profile: &TaskProfile, frames: &str, error_type: &str, message: &str) -> String {
        let mut out = String::with_capacity(1800);
        out.push_str(TRACEBACK_HEAD);
        let _ = writeln!(
            out,
            "  File \"/app/src/app/tasks/{}.py\", line {}, in {}\n    {}",
            profile.module, profile.line, profile.name, profile.call
        );
        out.push_str(frames);
        let _ = write!(out, "{error_type}: {message}");
        out
    }

    fn fail(&mut self, profile: &TaskProfile, state: &mut RunState) {
        let kind = profile.errors[self.rng.random_range(0..profile.errors.len())];
        let params = state.params.clone().unwrap_or(Value::Null);
        let (error_type, message, frames) = self.error(kind, &params);
        state.error_traceback = Some(Self::traceback(profile, frames, error_type, &message));
        state.error_type = Some(error_type.to_owned());
        state.error_message = Some(message);
        state.status = TaskStatus::Failed;
    }

    /// One attempt of a task, enqueued at `created_at`, as it stands at `now`.
    /// `finished`: always a finished run (success or failed), whatever `now` says.
    fn attempt(
        &mut self,
        profile: &'static TaskProfile,
        key: RunKey,
        params: Value,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
        finished: bool,
    ) -> RunState {
        let scheduled = profile.queue == "scheduler";
        let wait_median = if scheduled { 8.0 } else { 40.0 };
        let wait = millis(self.log_normal(wait_median, 1.3, 1.0, 60_000.0));
        let duration =
            millis(self.log_normal(profile.median_ms, profile.sigma, 3.0, 20.0 * 60_000.0));
        let started_at = created_at + wait;
        let completed_at = started_at + duration;
        let mut state = RunState {
            enqueued_at: Some(created_at),
            params: Some(params),
            queue: Some(profile.queue.to_owned()),
            trace_id: Some(self.rng.random()),
            ..RunState::new(key, profile.name, TaskStatus::Pending)
        };
        let stuck = !finished
            && created_at > now - TimeDelta::hours(1)
            && self.rng.random_bool(IN_FLIGHT_SHARE);
        let pending = !finished && (started_at > now || (stuck && self.rng.random_bool(0.5)));
        if pending {
            return state;
        }
        state.started_at = Some(started_at.min(now.max(created_at)));
        state.span_id = Some(self.rng.random());
        state.service_name = Some(profile.service.to_owned());
        state.worker_host = Some(format!("worker-{}", self.rng.random_range(1..=12)));
        state.status = TaskStatus::Running;
        if !finished && (stuck || completed_at > now) {
            return state;
        }
        state.started_at = Some(started_at);
        state.completed_at = Some(completed_at);
        state.status = TaskStatus::Success;
        if self.rng.random_bool(profile.failure_rate) {
            self.fail(profile, &mut state);
        }
        state
    }

    /// A task enqueued at `created_at`, as it stands at `now`, followed by its retries when it
    /// failed (each retry enqueued a backoff after the failure, kept only if before `until`).
    pub fn task(
        &mut self,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        out: &mut Vec<GeneratedRun>,
    ) {
        let profile = self.profile();
        let key = RunKey {
            source: SourceSystem::Taskiq,
            task_id: self.task_id(),
            attempt: 0,
        };
        let params = self.params(profile, created_at);
        let mut state = self.attempt(profile, key, params, created_at, now, false);
        let mut created_at = created_at;
        loop {
            let retry = state.status == TaskStatus::Failed
                && state.attempt < MAX_ATTEMPT
                && self.rng.random_bool(RETRY_PROBABILITY);
            let next_created = state
                .completed_at
                .map(|done| done + millis(self.log_normal(5_000.0, 0.8, 500.0, 120_000.0)));
            let next_key = RunKey {
                attempt: state.attempt + 1,
                ..state.key()
            };
            let params = state.params.clone().unwrap_or(Value::Null);
            out.push(GeneratedRun { created_at, state });
            match next_created {
                Some(next) if retry && next < until && next <= now => {
                    // A retry fails more often than a first attempt: the cause may persist.
                    state = self.attempt(profile, next_key, params, next, now, false);
                    if state.status == TaskStatus::Success && self.rng.random_bool(0.2) {
                        self.fail(profile, &mut state);
                    }
                    created_at = next;
                }
                _ => break,
            }
        }
    }

    /// A finished run (success or failed, no retries) created at `created_at`.
    pub fn finished(&mut self, created_at: DateTime<Utc>) -> GeneratedRun {
        let profile = self.profile();
        let key = RunKey {
            source: SourceSystem::Taskiq,
            task_id: self.task_id(),
            attempt: 0,
        };
        let params = self.params(profile, created_at);
        let state = self.attempt(profile, key, params, created_at, created_at, true);
        GeneratedRun { created_at, state }
    }

    /// `n` finished runs created over the minute before `now`, oldest first.
    pub fn finished_batch(&mut self, n: usize, now: DateTime<Utc>) -> Vec<GeneratedRun> {
        let mut offsets: Vec<i64> = (0..n)
            .map(|_| self.rng.random_range(0..60_000_000))
            .collect();
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        offsets
            .into_iter()
            .map(|us| self.finished(now - TimeDelta::microseconds(us)))
            .collect()
    }

    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

/// One day of runs: `n` enqueue times spread uniformly over `[from, to)`, handed out in time
/// order. A retry takes the place of the next task, so a day holds exactly `n` runs.
#[derive(Debug)]
pub struct DayPlan {
    generator: RunGenerator,
    times: Vec<DateTime<Utc>>,
    next: usize,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    target: usize,
    produced: usize,
    skip: usize,
}

impl DayPlan {
    pub fn new(
        seed: u64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        n: usize,
        now: DateTime<Utc>,
    ) -> Self {
        let mut generator = RunGenerator::new(seed);
        let span = (to - from).num_microseconds().unwrap_or(1).max(1);
        let mut offsets: Vec<i64> = (0..n)
            .map(|_| generator.rng().random_range(0..span))
            .collect();
        offsets.sort_unstable();
        let times = offsets
            .into_iter()
            .map(|us| from + TimeDelta::microseconds(us))
            .collect();
        DayPlan {
            generator,
            times,
            next: 0,
            to,
            now,
            target: n,
            produced: 0,
            skip: 0,
        }
    }

    /// The next runs (at most `max`); empty when the day is complete.
    pub fn next_chunk(&mut self, max: usize) -> Vec<GeneratedRun> {
        let mut out = Vec::with_capacity(max + 4);
        let limit = max.min(self.target - self.produced);
        while out.len() < limit && self.next < self.times.len() {
            let created_at = self.times[self.next];
            self.next += 1;
            if self.skip > 0 {
                self.skip -= 1;
                continue;
            }
            let before = out.len();
            self.generator.task(created_at, self.now, self.to, &mut out);
            self.skip += out.len() - before - 1;
        }
        // Retries cut off at the chunk's end are not made: the times set aside for them are
        // given back, or the day would end short of its `n` runs.
        self.skip = self.skip.saturating_sub(out.len().saturating_sub(limit));
        out.truncate(limit);
        self.produced += out.len();
        out
    }
}

/// What `generate` does.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub days: u32,
    pub rows_per_day: usize,
    pub seed: u64,
}

/// Microsecond precision, as the store keeps.
pub fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

fn day_seed(seed: u64, day: u32) -> u64 {
    seed ^ u64::from(day + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

struct Chunk {
    day: u32,
    runs: Vec<GeneratedRun>,
}

/// Fills the store with `days` days of runs, the most recent day ending now.
pub async fn generate(store: &PgStore, options: &GenerateOptions) -> Result<()> {
    let GenerateOptions {
        days,
        rows_per_day,
        seed,
    } = options.clone();
    if days == 0 {
        bail!("--days must be at least 1");
    }
    let before = store.storage_stats().await?.runs;
    if before > 0 {
        bail!(
            "the database already holds {before} runs; generate into an empty database \
             (use --fresh to drop and recreate it)"
        );
    }
    let now = now_micros();
    let retention_days = days + 2;
    let report = store
        .maintain(&RetentionPolicy {
            retention_days,
            days_ahead: RetentionPolicy::DEFAULT_DAYS_AHEAD,
            now,
        })
        .await?;
    eprintln!(
        "maintenance at now: {} partitions created",
        report.partitions_created.len()
    );

    // Runs are made on a thread of their own while the previous chunk is being imported.
    let (tx, mut rx) = mpsc::channel::<Chunk>(2);
    let producer = thread::spawn(move || {
        for day in 0..days {
            let to = now - TimeDelta::days(i64::from(days - 1 - day));
            let from = to - TimeDelta::days(1);
            let mut plan = DayPlan::new(day_seed(seed, day), from, to, rows_per_day, now);
            loop {
                let runs = plan.next_chunk(IMPORT_CHUNK);
                if runs.is_empty() {
                    break;
                }
                if tx.blocking_send(Chunk { day, runs }).is_err() {
                    return; // the importer stopped on an error
                }
            }
        }
    });

    let started = Instant::now();
    let mut total: u64 = 0;
    let mut day_rows: u64 = 0;
    let mut day_started = Instant::now();
    let mut current_day = None;
    let mut statuses = [0u64; 4];
    while let Some(Chunk { day, runs }) = rx.recv().await {
        if current_day != Some(day) {
            if let Some(previous) = current_day {
                print_day_progress(previous, days, day_rows, day_started, total, started);
            }
            current_day = Some(day);
            day_rows = 0;
            day_started = Instant::now();
            // maintain() only creates partitions from yesterday on: moving "now" to the end of
            // each day creates that day's partitions (D-1 and D) before its rows arrive.
            let day_end = now - TimeDelta::days(i64::from(days - 1 - day));
            let report = store
                .maintain(&RetentionPolicy {
                    retention_days,
                    days_ahead: 0,
                    now: day_end,
                })
                .await?;
            if report.skipped {
                bail!("maintenance was skipped: another process holds the maintenance lock");
            }
        }
        let ids = store.reserve_ids(runs.len()).await?;
        if ids.len() != runs.len() {
            bail!("asked for {} ids, got {}", runs.len(), ids.len());
        }
        let rows: Vec<StoredRun> = runs
            .into_iter()
            .zip(ids)
            .map(|(run, id)| {
                statuses[run.state.status.index()] += 1;
                run.stored(id)
            })
            .collect();
        let written = store.import_runs(&rows).await?;
        total += written;
        day_rows += written;
    }
    producer
        .join()
        .map_err(|_| anyhow!("the run generator thread panicked"))?;
    if let Some(day) = current_day {
        print_day_progress(day, days, day_rows, day_started, total, started);
    }

    let expected = u64::from(days) * rows_per_day as u64;
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "loaded {total} runs in {elapsed:.1} s ({:.0} rows/s); statuses: pending {}, running {}, \
         success {}, failed {}",
        total as f64 / elapsed.max(1e-9),
        statuses[0],
        statuses[1],
        statuses[2],
        statuses[3]
    );
    let stored = store
        .storage_stats()
        .await
        .context("counting the stored runs")?
        .runs;
    let stored = u64::try_from(stored).context("negative run count")?;
    if stored != total || total != expected {
        bail!("count mismatch: generated {expected}, imported {total}, stored {stored}");
    }
    eprintln!("check: the store holds {stored} runs, as generated");
    Ok(())
}

fn print_day_progress(
    day: u32,
    days: u32,
    day_rows: u64,
    day_started: Instant,
    total: u64,
    started: Instant,
) {
    let day_secs = day_started.elapsed().as_secs_f64().max(1e-9);
    let total_secs = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "day {:>2}/{days}: {day_rows} rows in {day_secs:.1} s ({:.0} rows/s); total {total} rows, \
         {total_secs:.0} s, {:.0} rows/s",
        day + 1,
        day_rows as f64 / day_secs,
        total as f64 / total_secs
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + h * 3600, 0).expect("valid timestamp")
    }

    #[test]
    fn a_day_holds_exactly_its_runs_whatever_the_chunk_size() {
        // Small chunks end often right after a failed run whose retry does not fit.
        for chunk in [1, 7, 50] {
            let mut plan = DayPlan::new(3, at(0), at(24), 20_000, at(24));
            let mut total = 0;
            loop {
                let runs = plan.next_chunk(chunk);
                if runs.is_empty() {
                    break;
                }
                total += runs.len();
            }
            assert_eq!(total, 20_000, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_day_holds_exactly_the_runs_asked_for_and_is_reproducible() {
        let plan = |seed| {
            let mut plan = DayPlan::new(seed, at(0), at(24), 20_000, at(24));
            let mut runs = Vec::new();
            loop {
                let chunk = plan.next_chunk(3_000);
                if chunk.is_empty() {
                    break;
                }
                runs.extend(chunk);
            }
            runs
        };
        let runs = plan(7);
        assert_eq!(runs.len(), 20_000);
        let again = plan(7);
        assert!(
            runs.iter()
                .zip(&again)
                .all(|(a, b)| a.state == b.state && a.created_at == b.created_at)
        );
        for run in &runs {
            assert_eq!(run.state.validate(), Ok(()), "{run:?}");
            assert!(run.created_at >= at(0) && run.created_at < at(24));
        }
        let failed = runs
            .iter()
            .filter(|r| r.state.status == TaskStatus::Failed)
            .count();
        let retries = runs.iter().filter(|r| r.state.attempt > 0).count();
        assert!((600..1100).contains(&failed), "failed: {failed}");
        assert!((100..400).contains(&retries), "retries: {retries}");
        let tracebacks: Vec<usize> = runs
            .iter()
            .filter_map(|r| r.state.error_traceback.as_ref().map(String::len))
            .collect();
        let mean = tracebacks.iter().sum::<usize>() / tracebacks.len();
        assert!((1200..1900).contains(&mean), "mean traceback: {mean}");
    }

    #[test]
    fn only_the_last_hour_has_runs_in_flight() {
        let mut plan = DayPlan::new(1, at(0), at(24), 50_000, at(24));
        let runs = plan.next_chunk(50_000);
        for run in runs.iter().filter(|r| !r.state.status.is_finished()) {
            assert!(run.created_at >= at(23), "{run:?}");
        }
        let in_flight = runs
            .iter()
            .filter(|r| !r.state.status.is_finished())
            .count();
        assert!(in_flight > 0);
    }

    #[test]
    fn lifecycle_events_merge_into_the_finished_run() {
        let mut generator = RunGenerator::new(3);
        for run in generator.finished_batch(500, at(5)) {
            let [a, b, c] = run.lifecycle_events();
            for event in [&a, &b, &c] {
                assert_eq!(event.run.validate(), Ok(()));
            }
            assert_eq!(a.run.merge(b.run).merge(c.run), run.state);
        }
    }
}
