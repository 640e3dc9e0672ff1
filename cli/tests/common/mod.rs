//! What the process tests share: starting a `tasklens collector` process and reading where it
//! listens from its ready line.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

/// A collector process that has said it is ready.
pub struct StartedCollector {
    pub child: Child,
    /// Its OTLP/HTTP address, host:port.
    pub http: String,
    /// The rest of what it prints.
    pub stdout: BufReader<ChildStdout>,
}

/// Starts `tasklens collector` on free ports against `database_url`, and waits for its ready
/// line.
pub fn start_collector(database_url: &str) -> StartedCollector {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tasklens"))
        .args([
            "collector",
            "--otlp-grpc-addr",
            "127.0.0.1:0",
            "--otlp-http-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
        ])
        .env("TASKLENS_DATABASE_URL", database_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the collector starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut ready = String::new();
    stdout.read_line(&mut ready).expect("a ready line");
    assert!(ready.starts_with("collector ready"), "{ready}");
    let http = ready
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the HTTP address")
        .to_owned();
    StartedCollector {
        child,
        http,
        stdout,
    }
}
