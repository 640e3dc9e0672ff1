//! `tasklens api` as a user runs it: a process on a free port that answers its probes and the
//! REST API, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;

/// The URL of the test's own database.
fn url_of(pool: &PgPool) -> String {
    let options = pool.connect_options();
    format!(
        "postgres://postgres@127.0.0.1:5432/{}",
        options.get_database().expect("a database")
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

#[sqlx::test(migrations = false)]
async fn the_api_command_serves_probes_and_metrics_then_stops_on_sigterm(pool: PgPool) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tasklens"))
        .args(["api", "--http-addr", &format!("127.0.0.1:{port}")])
        .env("TASKLENS_DATABASE_URL", url_of(&pool))
        .env_remove("TASKLENS_API_TOKEN")
        .env_remove("TASKLENS_UI_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    stdout.read_line(&mut banner).expect("the ready line");
    assert!(
        banner.starts_with(&format!("dashboard API ready on http://127.0.0.1:{port}")),
        "{banner}"
    );

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        match client.get(format!("{base}/healthz")).send().await {
            Ok(response) => break response,
            Err(err) if Instant::now() < deadline => {
                let _ = err;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("no answer from /healthz: {err}"),
        }
    };
    assert_eq!(health.status(), 200);
    let metrics = client
        .get(format!("{base}/api/v1/monitoring/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(metrics.status(), 200);
    let body = metrics.text().await.expect("body");
    assert!(body.contains("\"time_window_hours\":24"), "{body}");
    assert!(body.contains("\"metrics\":[]"), "{body}");

    // Graceful stop on SIGTERM (this test's own child, by its id).
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("the process ends");
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("stdout");
    assert!(rest.contains("dashboard API stopped"), "{rest}");
}
