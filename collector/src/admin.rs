//! The collector's own endpoints, on an address of their own: `/healthz` (the process answers),
//! `/readyz` (the database answers too), `/metrics` (Prometheus).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use tasklens_store::TaskStore;

use crate::telemetry;

pub fn router(store: Arc<dyn TaskStore>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route(
            "/metrics",
            get(|| async { telemetry::prometheus().render() }),
        )
        .with_state(store)
}

async fn ready(State(store): State<Arc<dyn TaskStore>>) -> impl IntoResponse {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {err}\n"),
        ),
    }
}
