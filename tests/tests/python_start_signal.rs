//! The start signal for Python workers (`docs/conventions.md`, "Running state for Celery and
//! TaskIQ workers") with real workers: `tasklens up` on a fresh SQLite file; a `celery worker`
//! (prefork pool, one process) and a `taskiq worker`, each with its library's standard
//! OpenTelemetry instrumentation, the code of `integrations/python/tasklens_start/` and the OTLP/HTTP
//! exporter, on a Redis database of its own (11 and 12, flushed first). For each system a task
//! that blocks until the test releases it shows as running, then success, as one row; a task
//! that fails at once ends failed, one row too.
//!
//! The task that blocks is sent by a traced producer (pending, running, success on one row);
//! the failing one by a producer without tracing, so nothing but the worker reports the run
//! (for TaskIQ this is the case where the run span carries no task id of its own).
//!
//! Needs python3 (with venv and pip) and Redis on 127.0.0.1:6379; the virtual environment is
//! made once by `scripts/python-workers.sh` under Cargo's target directory.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod common;
use common::spawn_tasklens;

/// Long enough for a worker to start (Python imports, the pool) on a busy machine; every wait
/// ends as soon as its condition holds.
const WAIT: Duration = Duration::from_secs(45);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The python of the test's virtual environment, made or reused by the script.
fn venv_python() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("python-workers-venv");
    let script = root().join("scripts/python-workers.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(&venv)
        .output()
        .expect("bash runs scripts/python-workers.sh");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scripts/python-workers.sh could not make the Python environment of this test \
         (it needs python3 with venv and pip, and PyPI): {}\n{stderr}",
        output.status
    );
    eprint!("{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let python = PathBuf::from(stdout.lines().last().expect("the script prints the python"));
    assert!(python.exists(), "{} does not exist", python.display());
    python
}

/// Unique enough for names of this test's directories, task ids and keys.
fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// A directory of this test under Cargo's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("python-start-signal-{what}-{}", unique()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `tasklens up` in this process, on free ports and a SQLite file in a temporary directory.
struct Stack {
    api: String,
    otlp_http: String,
    /// Ends only if `up` fails, with its error.
    up: tokio::task::JoinHandle<String>,
    _data: TempDir,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.up.abort();
    }
}

/// host:port after the first `http://` of the banner line that starts with `label`.
fn address(banner: &str, label: &str) -> Option<String> {
    let line = banner
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(label))?;
    let rest = line.split_once("http://")?.1;
    rest.split(['/', ' ']).next().map(str::to_owned)
}

async fn start_stack() -> Stack {
    let data = TempDir::new("data");
    let dir = data.0.to_str().expect("utf-8 path").to_owned();
    let args = [
        "up",
        "--data-dir",
        &dir,
        // empty: the embedded store, whatever TASKLENS_DATABASE_URL the runner has
        "--database-url=",
        "--otlp-grpc-addr",
        "127.0.0.1:0",
        "--otlp-http-addr",
        "127.0.0.1:0",
        "--admin-addr",
        "127.0.0.1:0",
        "--http-addr",
        "127.0.0.1:0",
        // every poll reads the store, not an answer shared for 500 ms
        "--read-cache-ms",
        "0",
    ];
    let (printed, up) = spawn_tasklens(args.map(str::to_owned).to_vec());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let banner = printed.text();
        // the banner's last line: everything listens
        if banner.contains("health and metrics:") {
            let api = address(&banner, "page:").expect("the API's address");
            let otlp_http = address(&banner, "OTLP/HTTP:").expect("the OTLP/HTTP address");
            return Stack {
                api,
                otlp_http,
                up,
                _data: data,
            };
        }
        assert!(
            !up.is_finished() && tokio::time::Instant::now() < deadline,
            "tasklens up did not start; it printed: {banner:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One of the two Python task systems, on its own Redis database.
#[derive(Clone)]
struct System {
    name: &'static str,
    redis_url: String,
    python: PathBuf,
    otlp_http: String,
    logs: PathBuf,
}

impl System {
    fn command(&self, program: &Path) -> Command {
        let python_dir = root().join("tests/python");
        let path = std::env::join_paths([python_dir.clone(), root().join("integrations/python")])
            .expect("PYTHONPATH");
        let mut command = Command::new(program);
        command
            .current_dir(&python_dir)
            .env("PYTHONPATH", path)
            .env("PYTHONUNBUFFERED", "1")
            // no __pycache__ folders in the work tree
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("TASKLENS_TEST_REDIS_URL", &self.redis_url)
            .env(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://{}", self.otlp_http),
            )
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            // the batch processor's default is 5 s
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("OTEL_SERVICE_NAME", format!("start-signal-{}", self.name));
        command
    }

    /// `driver.py` (flush, enqueue, release), which must succeed.
    async fn driver(&self, traced: bool, args: &[&str]) {
        let mut command = self.command(&self.python);
        command
            .arg("driver.py")
            .args(args)
            .env("TASKLENS_TEST_TRACED", if traced { "1" } else { "0" });
        let what = format!("driver.py {}", args.join(" "));
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("driver thread")
            .unwrap_or_else(|err| panic!("{what} does not start: {err}"));
        assert!(
            output.status.success(),
            "{what} failed ({}); is Redis running on 127.0.0.1:6379?\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn start_worker(&self) -> Worker {
        let bin = self.python.parent().expect("the venv's bin");
        let log_path = self.logs.join(format!("{}-worker.log", self.name));
        let log = File::create(&log_path).expect("worker log");
        let mut command = match self.name {
            "celery" => {
                let mut c = self.command(&bin.join("celery"));
                c.args(["-A", "celery_app", "worker", "--pool", "prefork"])
                    .args(["--concurrency", "1", "--loglevel", "info"])
                    .args([
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                    ]);
                c
            }
            _ => {
                let mut c = self.command(&bin.join("taskiq"));
                c.args(["worker", "taskiq_app:broker", "--workers", "1"]);
                c
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            // its own process group, so the pool processes are killed with it
            .process_group(0)
            .spawn()
            .unwrap_or_else(|err| panic!("the {} worker does not start: {err}", self.name));
        Worker {
            child,
            log: log_path,
        }
    }
}

/// A worker process group, killed when the test ends, whatever happens.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    /// The end of the worker's log, for failure messages.
    fn tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// The rows of one task type.
async fn rows(client: &reqwest::Client, api: &str, task_name: &str) -> Vec<Value> {
    let url = format!("http://{api}/api/v1/monitoring/history?task_name={task_name}");
    let response = client.get(&url).send().await.expect("the API answers");
    assert_eq!(response.status(), 200, "{url}");
    let page: Value = response.json().await.expect("json");
    page["items"].as_array().cloned().unwrap_or_default()
}

/// What a scenario polls: the API, for the runs of one system's worker.
struct Watch<'a> {
    client: reqwest::Client,
    api: &'a str,
    system: &'a str,
    worker: &'a Worker,
}

impl Watch<'_> {
    /// Polls until the task type has exactly one row, for `task_id`, in `status`, and returns
    /// it. Fails at once if a second row appears (it never goes away), and after [`WAIT`] with
    /// what it saw.
    async fn one_row(&self, task_name: &str, task_id: &str, status: &str) -> Value {
        let system = self.system;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = rows(&self.client, self.api, task_name).await;
            assert!(
                found.len() <= 1,
                "{system}: {task_name} has more than one row: {:?}",
                summary(&found)
            );
            if let [row] = found.as_slice()
                && row["task_id"] == task_id
                && row["status"] == status
            {
                assert_eq!(row["source"], system, "{row}");
                assert_eq!(row["attempt"], 0, "{row}");
                return row.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{system}: after {WAIT:?}, {task_name} ({task_id}) is not one {status} row; the \
                 rows: {:?}\nthe worker's log ends with:\n{}",
                summary(&found),
                self.worker.tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Rows as `source:task_id#attempt status`, for failure messages.
fn summary(rows: &[Value]) -> Vec<String> {
    let field = |row: &Value, key: &str| row[key].as_str().unwrap_or("?").to_owned();
    rows.iter()
        .map(|r| {
            let (source, id) = (field(r, "source"), field(r, "task_id"));
            format!("{source}:{id}#{} {}", r["attempt"], field(r, "status"))
        })
        .collect()
}

/// One system's scenario: a run that shows running then success, and a run that fails.
async fn scenario(system: System, api: String) {
    let name = system.name;
    let wait_task = format!("{name}_wait_for_release");
    let fail_task = format!("{name}_fail_at_once");
    let suffix = unique();
    let (wait_id, fail_id) = (format!("wait-{suffix}"), format!("fail-{suffix}"));
    let release_key = format!("release-{suffix}");

    system.driver(false, &["flush"]).await;
    let worker = system.start_worker();
    let watch = Watch {
        client: reqwest::Client::new(),
        api: &api,
        system: name,
        worker: &worker,
    };
    system
        .driver(true, &["enqueue", name, &wait_task, &wait_id, &release_key])
        .await;
    let running = watch.one_row(&wait_task, &wait_id, "running").await;
    assert!(running["started_at"].is_string(), "{running}");
    assert!(running["completed_at"].is_null(), "{running}");

    system.driver(false, &["release", &release_key]).await;
    let done = watch.one_row(&wait_task, &wait_id, "success").await;
    // the run span started a moment before the start signal: the earlier start is kept
    let time = |row: &Value| {
        let text = row["started_at"].as_str().unwrap_or_default();
        chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|err| panic!("{row}: {err}"))
    };
    assert!(time(&done) <= time(&running), "{done} vs {running}");
    assert!(done["completed_at"].is_string(), "{done}");

    system
        .driver(false, &["enqueue", name, &fail_task, &fail_id])
        .await;
    let failed = watch.one_row(&fail_task, &fail_id, "failed").await;
    let message = failed["error_message"].as_str().unwrap_or_default();
    assert!(message.contains("failing on purpose"), "{failed}");

    // A start signal is exported before its run span (it ends first): a second row of either
    // run would be there by now.
    for task in [&wait_task, &fail_task] {
        let found = rows(&watch.client, &api, task).await;
        assert_eq!(found.len(), 1, "{name}: {task}: {:?}", summary(&found));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn celery_and_taskiq_runs_show_running_then_their_final_state_as_one_row() {
    let python = venv_python();
    let stack = start_stack().await;
    let logs = TempDir::new("logs");
    let system = |name, db: u8| System {
        name,
        redis_url: format!("redis://127.0.0.1:6379/{db}"),
        python: python.clone(),
        otlp_http: stack.otlp_http.clone(),
        logs: logs.0.clone(),
    };
    let celery = tokio::spawn(scenario(system("celery", 11), stack.api.clone()));
    let taskiq = tokio::spawn(scenario(system("taskiq", 12), stack.api.clone()));
    for (name, outcome) in [("celery", celery.await), ("taskiq", taskiq.await)] {
        if let Err(err) = outcome {
            match err.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(err) => panic!("the {name} scenario did not finish: {err}"),
            }
        }
    }
}

/// The environment installs what the fixtures were recorded with, plus the Redis broker.
#[test]
fn the_workers_use_the_fixtures_pins() {
    let pins = |path: &str| -> Vec<String> {
        std::fs::read_to_string(root().join(path))
            .unwrap_or_else(|err| panic!("{path}: {err}"))
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    let workers = pins("scripts/python-workers-requirements.txt");
    let missing: Vec<_> = pins("collector/tests/fixtures/requirements.txt")
        .into_iter()
        .filter(|pin| !workers.contains(pin))
        .collect();
    assert!(
        missing.is_empty(),
        "not pinned as in the fixtures: {missing:?}"
    );
}
