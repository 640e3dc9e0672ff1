use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// mimalloc instead of the system allocator: decoding OTLP requests and encoding batches makes
/// many short-lived allocations, and under load glibc's malloc and free took about half of the
/// collector's CPU (perf, BENCHMARKS.md "Collector").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match tasklens::run(std::env::args_os(), &mut std::io::stdout()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => match err.downcast_ref::<clap::Error>() {
            // clap formats help, version and usage errors itself.
            Some(clap_err) => {
                let _ = clap_err.print();
                ExitCode::from(u8::try_from(clap_err.exit_code()).unwrap_or(2))
            }
            None => {
                // One line: the context, then each cause, separated by ": ".
                eprintln!("error: {}", format!("{err:#}").replace('\n', " "));
                ExitCode::FAILURE
            }
        },
    }
}
