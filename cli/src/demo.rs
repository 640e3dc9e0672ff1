//! `tasklens demo`: a worker that runs the ten demo task types at a steady rate through the
//! Rust instrumentation, against any OTLP endpoint. It makes the dashboard look alive.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use tasklens_instrumentation::OtlpProtocol;
use tasklens_instrumentation::demo::{self, DemoConfig};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// New task runs per second.
    #[arg(long, env = "TASKLENS_DEMO_RATE", default_value_t = 5.0)]
    pub rate: f64,
    /// Where to send the spans (the tasklens collector's OTLP/gRPC or OTLP/HTTP address).
    #[arg(
        long,
        env = "TASKLENS_DEMO_OTLP_ENDPOINT",
        default_value = "http://127.0.0.1:4317"
    )]
    pub otlp_endpoint: String,
    /// grpc or http/protobuf.
    #[arg(long, env = "TASKLENS_DEMO_OTLP_PROTOCOL", default_value = "grpc")]
    pub otlp_protocol: OtlpProtocol,
    /// Bearer token, for a collector started with one.
    #[arg(long, env = "TASKLENS_OTLP_TOKEN", hide_env_values = true)]
    pub otlp_token: Option<String>,
    /// Stop after this many seconds (default: run until Ctrl-C or SIGTERM).
    #[arg(long, env = "TASKLENS_DEMO_DURATION_SECS")]
    pub duration_secs: Option<u64>,
    /// Share of attempts that fail, in percent; rate-limit failures are retried.
    #[arg(long, env = "TASKLENS_DEMO_FAILURE_PERCENT", default_value_t = 4.0)]
    pub failure_percent: f64,
    /// The service name the runs are reported under.
    #[arg(
        long,
        env = "TASKLENS_DEMO_SERVICE_NAME",
        default_value = "tasklens-demo"
    )]
    pub service_name: String,
}

impl DemoArgs {
    fn config(&self) -> DemoConfig {
        DemoConfig {
            rate_per_sec: self.rate,
            endpoint: self.otlp_endpoint.clone(),
            protocol: self.otlp_protocol,
            token: self.otlp_token.clone(),
            duration: self.duration_secs.map(Duration::from_secs),
            failure_percent: self.failure_percent,
            service_name: self.service_name.clone(),
            ..DemoConfig::default()
        }
    }
}

pub async fn run(args: DemoArgs, out: &mut impl std::io::Write) -> Result<()> {
    writeln!(
        out,
        "demo worker: {} runs/s of 10 task types to {} ({}), {}% failures",
        args.rate, args.otlp_endpoint, args.otlp_protocol, args.failure_percent
    )?;
    out.flush()?;
    let summary = demo::run(args.config(), crate::shutdown::shutdown_signal())
        .await
        .context("the demo worker cannot run")?;
    writeln!(
        out,
        "demo stopped: {} tasks, {} attempts, {} failed, {} spans dropped",
        summary.tasks, summary.attempts, summary.failed_attempts, summary.dropped_spans
    )?;
    Ok(())
}
