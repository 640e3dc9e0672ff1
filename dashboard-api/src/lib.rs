//! The tasklens dashboard API: REST endpoints over the store and a WebSocket feed of status
//! changes, behind the monitoring page.
//!
//! Data flow: request → token check → `params` (pure parsing and validation; every refusal is
//! a JSON 400 naming the parameter) → `read_cache` (identical questions asked within
//! `read_cache_max_age` share one store query) → a store query → a response type of `routes`.
//! Live: the
//! store's LISTEN subscription (one per process) → `live::LiveHub` → a bounded queue per client.
//! Architecture Invariant: no SQL here; nothing a client sends reaches the store as text other
//! than as a typed filter value.

pub mod admin;
pub mod config;
pub mod error;
pub mod live;
pub mod openapi;
pub mod params;
pub mod read_cache;
pub mod routes;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod wire;

pub use config::ApiConfig;
pub use error::{ApiError, ErrorBody};
pub use server::{RunningApi, StartError, start};
