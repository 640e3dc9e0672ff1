//! The `tasklens` binary as a user runs it.

use std::process::{Command, Output};

use sqlx::PgPool;

fn tasklens(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tasklens"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("TASKLENS_DATABASE_URL")
        .env_remove("TASKLENS_RETENTION_DAYS");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The URL of the test's own database.
fn url_of(pool: &PgPool) -> String {
    let options = pool.connect_options();
    format!(
        "postgres://postgres@127.0.0.1:5432/{}",
        options.get_database().expect("a database")
    )
}

#[test]
fn help_names_every_flag_and_its_environment_variable() {
    let output = tasklens(&["retention", "--help"], &[]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--database-url",
        "TASKLENS_DATABASE_URL",
        "DATABASE_URL",
        "--retention-days",
        "TASKLENS_RETENTION_DAYS",
        "[default: 30]",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
    let version = tasklens(&["--version"], &[]);
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("tasklens "));
}

#[test]
fn an_unreachable_database_is_one_line_that_says_what_to_fix() {
    let output = tasklens(
        &[
            "migrate",
            "--database-url",
            "postgres://postgres:pw@127.0.0.1:1/x",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot connect to PostgreSQL at 127.0.0.1:1/x"),
        "{err}"
    );
    assert!(err.contains("Connection refused"), "{err}");
    assert!(
        err.contains("--database-url / TASKLENS_DATABASE_URL"),
        "{err}"
    );
    assert!(!err.contains(":pw@"), "the password leaked: {err}");
}

#[test]
fn a_bad_url_or_none_at_all_is_a_clear_error() {
    let output = tasklens(
        &["migrate"],
        &[("TASKLENS_DATABASE_URL", "mysql://root@db/x")],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("expected postgres://"),
        "{}",
        stderr(&output)
    );

    let output = tasklens(&["retention"], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no database given"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn retention_days_out_of_range_is_refused_by_name() {
    let output = tasklens(
        &["retention"],
        &[
            ("TASKLENS_RETENTION_DAYS", "0"),
            ("DATABASE_URL", "postgres://x@127.0.0.1:1/x"),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("--retention-days"), "{err}");
    assert!(err.contains("0 is not in 1..=3650"), "{err}");
}

#[test]
fn a_bad_stuck_threshold_is_refused_with_what_to_write() {
    for (value, says) in [
        ("score_message", "is not PATTERN=DURATION"),
        ("score_message=soon", "\"soon\" is not a duration"),
        ("=15m", "empty task-name pattern"),
    ] {
        for command in ["api", "up"] {
            let output = tasklens(
                &[command, "--stuck-threshold", value],
                &[("DATABASE_URL", "postgres://x@127.0.0.1:1/x")],
            );
            assert_eq!(output.status.code(), Some(2), "{command} {value}");
            let err = stderr(&output);
            assert!(err.contains("--stuck-threshold"), "{err}");
            assert!(err.contains(says), "{command} {value}: {err}");
        }
    }
}

#[sqlx::test(migrations = false)]
async fn migrate_builds_a_fresh_database_and_is_idempotent(pool: PgPool) {
    let url = url_of(&pool);
    for _ in 0..2 {
        // DATABASE_URL as the fallback variable.
        let output = tasklens(&["migrate"], &[("DATABASE_URL", &url)]);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE tablename IN \
         ('task_execution_logs_default', 'task_run_keys', 'task_rollups') ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    assert_eq!(
        tables,
        [
            "task_execution_logs_default",
            "task_rollups",
            "task_run_keys"
        ]
    );

    let output = tasklens(
        &["retention", "--retention-days", "7"],
        &[("TASKLENS_DATABASE_URL", &url)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("kept 7 days"));
}

#[tokio::test]
async fn migrate_creates_a_missing_database() {
    use sqlx::Connection;
    let admin_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!(
        "tasklens_cli_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .subsec_nanos()
    );
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    let output = tasklens(&["migrate", "--database-url", &url], &[]);
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("admin");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .expect("query");
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .expect("cleanup");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(exists);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("created database"));
}
