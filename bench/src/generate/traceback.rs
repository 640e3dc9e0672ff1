//! Failures as a Python worker (taskiq) reports them: exception type, a message with the ids of
//! the run in it, and a traceback through the application and its libraries.

use std::fmt::Write as _;

use rand::Rng;
use serde_json::Value;
use tasklens_instrumentation::demo::catalogue::{self, Failure, TaskType};

use Failure::{
    DbConnection, Deadlock, FloodWait, NotFound, RateLimit, ReadTimeout, Redis, TimeLimit,
    UniqueViolation, Validation,
};

/// One failure as Python reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonError {
    /// The exception's qualified type name.
    pub error_type: &'static str,
    pub message: String,
    /// The library frames between the task's own frame and the raise.
    pub frames: &'static str,
}

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

/// Exception type, message (with ids in it) and library frames of one failure.
pub fn python_error(failure: Failure, rng: &mut impl Rng, params: &Value) -> PythonError {
    let message_id = params
        .get("message_id")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| catalogue::record_id(rng));
    let (error_type, message, frames) = match failure {
        RateLimit => {
            let message = if rng.random_bool(0.3) {
                format!("OpenAI API rate limit exceeded for message {message_id}")
            } else {
                format!(
                    "Error code: 429 - Rate limit reached for gpt-4o-mini in organization \
                     org-{} on tokens per min (TPM): Limit 200000, Used {}, Requested {}. \
                     Please try again in {}ms.",
                    hex(rng, 12),
                    rng.random_range(195_000..200_000),
                    rng.random_range(300..6_000),
                    rng.random_range(20..4_000)
                )
            };
            ("openai.RateLimitError", message, LLM_FRAMES)
        }
        ReadTimeout => (
            "httpx.ReadTimeout",
            format!(
                "timed out after 30.0s reading https://api.openai.com/v1/embeddings \
                 (batch of {} items, first id {})",
                rng.random_range(4..64),
                message_id
            ),
            HTTP_FRAMES,
        ),
        TimeLimit => (
            "TimeoutError",
            format!(
                "task exceeded its time limit of {}s while processing batch {}",
                [120, 300, 600][rng.random_range(0..3)],
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
                rng.random_range(10..14),
                rng.random_range(1_000..99_999)
            ),
            DB_CONNECT_FRAMES,
        ),
        Deadlock => (
            "sqlalchemy.exc.DBAPIError",
            format!(
                "(psycopg.errors.DeadlockDetected) deadlock detected DETAIL: Process {} \
                 waits for ShareLock on transaction {}; blocked by process {}.",
                rng.random_range(1_000..99_999),
                rng.random_range(10_000_000..99_999_999),
                rng.random_range(1_000..99_999)
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
                rng.random_range(3..400),
                catalogue::chat_id(rng)
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
                rng.random_range(0..12),
                rng.random_range(1..4),
                rng.random_range(0..100)
            ),
            VALIDATION_FRAMES,
        ),
        NotFound => (
            "app.errors.MessageNotFound",
            format!(
                "message {message_id} not found in chat {} (deleted before scoring?)",
                catalogue::chat_id(rng)
            ),
            NOT_FOUND_FRAMES,
        ),
    };
    PythonError {
        error_type,
        message,
        frames,
    }
}

/// The whole traceback of a failed run of `task`, ending with the exception line.
pub fn traceback(task: &TaskType, error: &PythonError) -> String {
    let mut out = String::with_capacity(1800);
    out.push_str(TRACEBACK_HEAD);
    let _ = writeln!(
        out,
        "  File \"/app/src/app/tasks/{}.py\", line {}, in {}\n    {}",
        task.source.module, task.source.line, task.name, task.source.call
    );
    out.push_str(error.frames);
    let _ = write!(out, "{}: {}", error.error_type, error.message);
    out
}

fn hex(rng: &mut impl Rng, len: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdef";
    (0..len)
        .map(|_| char::from(DIGITS[rng.random_range(0..DIGITS.len())]))
        .collect()
}
