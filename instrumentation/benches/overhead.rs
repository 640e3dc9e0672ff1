//! What the instrumentation costs a task (figures for BENCHMARKS.md; nothing here is asserted).
//!
//! - `per_run`: time on the task's path of one instrumented run (worker side: the run and start
//!   spans, params, headers) and of one enqueue (producer side), against a bare task, with a
//!   real OTLP/gRPC exporter running to a local sink. The buffer is flushed between samples
//!   outside the timed region so the measured path is the normal one (span admitted), not the
//!   cheaper drop path.
//! - `throughput`: 200 tasks of ~20 µs of work each, instrumented, with the collector reachable
//!   versus unreachable (nothing listening): export failures must not slow the tasks.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use serde_json::json;
use tasklens_instrumentation::{OtlpProtocol, TaskRun, Tracker, TrackerGuard};

/// An OTLP/gRPC endpoint that counts spans and discards them: the exporter really runs, and
/// the bench does not measure a database.
struct Sink {
    spans: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.spans.fetch_add(spans as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[derive(Debug)]
struct NullExporter;

impl SpanExporter for NullExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(black_box(batch));
        Ok(())
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_sink(runtime: &tokio::runtime::Runtime) -> (SocketAddr, Arc<AtomicU64>) {
    let spans = Arc::new(AtomicU64::new(0));
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let service = TraceServiceServer::new(Sink {
        spans: spans.clone(),
    });
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve(addr),
    );
    std::thread::sleep(Duration::from_millis(200));
    (addr, spans)
}

fn tracker_to(runtime: &tokio::runtime::Runtime, addr: SocketAddr) -> TrackerGuard {
    let _entered = runtime.enter();
    Tracker::builder()
        .endpoint(format!("http://{addr}"))
        .protocol(OtlpProtocol::Grpc)
        .service_name("bench")
        .export_timeout(Duration::from_secs(1))
        .install()
        .expect("tracker")
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// About 20 µs of CPU work, standing in for a task.
async fn work(seed: u64) -> Result<u64, std::io::Error> {
    let mut x = seed | 1;
    for _ in 0..20_000 {
        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
    Ok(x)
}

fn per_run(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (addr, received) = start_sink(&runtime);
    let guard = tracker_to(&runtime, addr);
    let tracker = guard.tracker().clone();
    let params = json!({"message_id": 500, "chat_id": -1_001_234_567, "api_key": "k"});
    let headers = tracker.enqueue("score_message", "bench", &params);

    let mut group = c.benchmark_group("per_run");
    group.bench_function("bare task", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let start = Instant::now();
                let out = block_on(async { Ok::<_, std::io::Error>(black_box(i)) });
                total += start.elapsed();
                let _ = black_box(out);
            }
            total
        })
    });
    group.bench_function("instrumented run (worker side)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let start = Instant::now();
                let run = TaskRun::new("score_message", "bench")
                    .params_lossy(&params)
                    .attempt(0)
                    .headers(&headers);
                let out =
                    block_on(tracker.run(run, async { Ok::<_, std::io::Error>(black_box(i)) }));
                total += start.elapsed();
                let _ = black_box(out);
                if i % 512 == 511 {
                    let _ = guard.provider().force_flush();
                }
            }
            let _ = guard.provider().force_flush();
            total
        })
    });
    group.bench_function("enqueue (producer side)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let start = Instant::now();
                let headers = tracker.enqueue("score_message", "bench", &params);
                total += start.elapsed();
                black_box(headers);
                if i % 1024 == 1023 {
                    let _ = guard.provider().force_flush();
                }
            }
            let _ = guard.provider().force_flush();
            total
        })
    });

    // The same run through an exporter that discards at once: the cost on the task's path
    // without the export work competing for the machine's cores.
    let null_guard = Tracker::builder().install_with_exporter(NullExporter);
    let null_tracker = null_guard.tracker().clone();
    group.bench_function("instrumented run (worker side), discarding exporter", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let start = Instant::now();
                let run = TaskRun::new("score_message", "bench")
                    .params_lossy(&params)
                    .attempt(0)
                    .headers(&headers);
                let out = block_on(
                    null_tracker.run(run, async { Ok::<_, std::io::Error>(black_box(i)) }),
                );
                total += start.elapsed();
                let _ = black_box(out);
                if i % 512 == 511 {
                    let _ = null_guard.provider().force_flush();
                }
            }
            total
        })
    });
    group.finish();
    drop(null_guard);
    let _ = guard.provider().force_flush();
    eprintln!(
        "per_run: spans exported {}, received by the sink {}, dropped {}",
        guard.counters().exported(),
        received.load(Ordering::Relaxed),
        tracker.dropped_spans()
    );
    drop(guard);
}

fn throughput(c: &mut Criterion) {
    const TASKS: u64 = 200;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (reachable_addr, _received) = start_sink(&runtime);
    let unreachable_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let params = json!({"message_id": 500});

    let mut group = c.benchmark_group("throughput");
    group.throughput(Throughput::Elements(TASKS));
    for (label, addr) in [
        ("collector reachable", reachable_addr),
        ("collector unreachable", unreachable_addr),
    ] {
        let guard = tracker_to(&runtime, addr);
        let tracker = guard.tracker().clone();
        let rss_before = rss_kib();
        group.bench_function(label, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    for n in 0..TASKS {
                        let run = TaskRun::new("score_message", "bench").params_lossy(&params);
                        let headers = tracker.enqueue_run(&run);
                        let _ = black_box(tracker.run(run.headers(&headers), work(n)).await);
                    }
                })
            })
        });
        eprintln!(
            "throughput ({label}): spans exported {}, dropped {} (buffer full {}, failed exports {}); RSS {} KiB before, {} KiB after",
            guard.counters().exported(),
            guard.counters().dropped(),
            guard.counters().dropped_buffer_full(),
            guard.counters().dropped_export_failed(),
            rss_before,
            rss_kib()
        );
        drop(guard);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = per_run, throughput
}
criterion_main!(benches);
