//! The collector's own endpoints, on an address of their own: `/healthz` (the process answers),
//! `/readyz` (the database answers too; its body also tells how full the ingest queue is),
//! `/metrics` (Prometheus).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use tasklens_store::TaskStore;

use crate::pipeline::QueueGauge;
use crate::telemetry;

#[derive(Clone)]
struct AdminState {
    store: Arc<dyn TaskStore>,
    queue: QueueGauge,
}

pub fn router(store: Arc<dyn TaskStore>, queue: QueueGauge) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route(
            "/metrics",
            get(|| async { telemetry::prometheus().render() }),
        )
        .with_state(AdminState { store, queue })
}

async fn ready(State(state): State<AdminState>) -> impl IntoResponse {
    let queue = format!(
        "{} of {} events queued",
        state.queue.queued_events(),
        state.queue.capacity()
    );
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, format!("ready; {queue}\n")),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {err}; {queue}\n"),
        ),
    }
}
