//! The tasklens collector: an OTLP receiver (gRPC and HTTP) that recognizes the task runs in
//! the spans of any instrumented task system and writes them through the store.
//!
//! Data flow: transport (`grpc`, `http`) → `ingest` (token, recognition, counters) →
//! `pipeline` (bounded queue, batcher, one transaction per batch) → the sender's answer.
//! Architecture Invariant: a sender is answered "OK" only after the commit that holds its data.

pub mod admin;
pub mod grpc;
pub mod http;
pub mod ingest;
pub mod otlp_json;
pub mod pipeline;
pub mod recognize;
pub mod retention;
pub mod search_backlog;
pub mod server;
pub mod telemetry;

pub use server::{CollectorAddrs, CollectorConfig, RunningCollector, start};
