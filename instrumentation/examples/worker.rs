//! A demo worker: the ten demo task types at a steady rate against an OTLP endpoint.
//!
//! `cargo run -p tasklens-instrumentation --example worker -- [RATE] [SECONDS]`; the endpoint,
//! protocol and service name come from OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL
//! and OTEL_SERVICE_NAME (default http://127.0.0.1:4317, grpc, tasklens-demo).

use std::time::Duration;

use tasklens_instrumentation::demo::{self, DemoConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let defaults = DemoConfig::default();
    let rate = match args.next() {
        Some(rate) => rate.parse()?,
        None => defaults.rate_per_sec,
    };
    let duration = args
        .next()
        .map(|secs| secs.parse().map(Duration::from_secs))
        .transpose()?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let config = DemoConfig {
        rate_per_sec: rate,
        duration,
        endpoint: env("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or(defaults.endpoint.clone()),
        protocol: match env("OTEL_EXPORTER_OTLP_PROTOCOL") {
            Some(protocol) => protocol.parse()?,
            None => defaults.protocol,
        },
        service_name: env("OTEL_SERVICE_NAME").unwrap_or(defaults.service_name.clone()),
        ..defaults
    };
    println!(
        "demo worker: {} runs/s to {} ({}); Ctrl-C stops",
        config.rate_per_sec, config.endpoint, config.protocol
    );
    let summary = demo::run(config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    println!("{summary:?}");
    Ok(())
}
