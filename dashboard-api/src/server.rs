//! Starting and stopping the API: bind first (port 0 works, for tests), then serve until
//! shutdown; on shutdown stop accepting, close every WebSocket with a close frame, then return.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use tasklens_service::{RunningServer, bind, stopped};
use tasklens_store::TaskStore;
use tokio::sync::{mpsc, watch};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::config::ApiConfig;
use crate::error::ApiError;
use crate::live::{self, LiveHub};
use crate::read_cache::ReadCache;
use crate::state::AppState;
use crate::{admin, openapi, routes, telemetry};
use tasklens_service::TokenCheck;

/// The WebSocket's path (the only API path that also takes the token as a query parameter).
pub const WS_PATH: &str = "/api/v1/monitoring/ws";

/// Why the API cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid CORS origin {0:?}: expected e.g. https://dashboard.example.com or *")]
    CorsOrigin(String),
}

/// Where an API listens.
#[derive(Debug, Clone, Copy)]
pub struct ApiAddrs {
    /// The bound address (the real port when asked for port 0).
    pub addr: SocketAddr,
}

/// An API that is serving. Its graceful shutdown stops accepting, finishes requests, closes
/// WebSockets, then returns.
pub type RunningApi = RunningServer<ApiAddrs>;

/// Binds the address, subscribes to live events and starts serving.
pub async fn start(config: ApiConfig, store: Arc<dyn TaskStore>) -> Result<RunningApi, StartError> {
    let (listener, addr) = bind("the dashboard API", config.http_addr)
        .await
        .map_err(|error| StartError::Bind {
            addr: error.addr,
            source: error.source,
        })?;
    let cors = cors_layer(&config.cors_origins)?;
    let (stop, stop_rx) = watch::channel(false);

    let hub = Arc::new(LiveHub::new(config.ws_client_buffer));
    // Subscribing before serving: a client that connects once `start` returns misses nothing.
    let first = match store.subscribe().await {
        Ok(subscription) => Some(subscription),
        Err(err) => {
            tracing::warn!(error = %err, "live events: cannot subscribe yet; retrying");
            None
        }
    };
    let hub_task = tokio::spawn(live::run_hub(
        hub.clone(),
        store.clone(),
        first,
        stop_rx.clone(),
    ));
    let (ws_alive, mut ws_done) = mpsc::channel::<()>(1);
    let state = AppState {
        store,
        hub,
        read_cache: Arc::new(ReadCache::new(
            config.read_cache_max_age,
            ReadCache::DEFAULT_CAPACITY,
        )),
        token: TokenCheck::new(config.token.as_deref()),
        prometheus: telemetry::prometheus(config.prometheus.clone()),
        stop: stop_rx.clone(),
        ws_ping_interval: config.ws_ping_interval,
        ws_alive,
        stuck_thresholds: Arc::new(config.stuck_thresholds.clone()),
    };
    let app = router(state, &config, cors);
    let server = axum::serve(listener, app).with_graceful_shutdown(stopped(stop_rx));
    let serving = async move {
        let served = server.into_future().await;
        let _ = hub_task.await;
        // Every WebSocket task got the stop signal and sends its close frame; wait for them,
        // but not forever for a peer that reads nothing.
        let _ = tokio::time::timeout(Duration::from_secs(10), ws_done.recv()).await;
        served
    };
    let running = RunningServer::spawn(ApiAddrs { addr }, stop, serving);
    tracing::info!(%addr, "dashboard API listening");
    Ok(running)
}

fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, StartError> {
    let origins: Vec<&str> = origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .collect();
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.contains(&"*") {
        AllowOrigin::any()
    } else {
        let values = origins
            .iter()
            .map(|origin| {
                url::Url::parse(origin)
                    .ok()
                    .filter(|url| url.has_host())
                    .and_then(|_| HeaderValue::from_str(origin.trim_end_matches('/')).ok())
                    .ok_or_else(|| StartError::CorsOrigin((*origin).to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(values)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(Duration::from_secs(600)),
    ))
}

/// Every route.
fn router(state: AppState, config: &ApiConfig, cors: Option<CorsLayer>) -> Router {
    let timeout = config.request_timeout;
    let rest = Router::new()
        .route("/api/v1/monitoring/metrics", get(routes::metrics::metrics))
        .route("/api/v1/monitoring/history", get(routes::history::history))
        .route("/api/v1/monitoring/tasks/{id}", get(routes::tasks::task))
        .route("/api/v1/monitoring/stuck", get(routes::stuck::stuck))
        .route("/api/v1/monitoring/errors", get(routes::errors::errors))
        .route(
            "/api/v1/monitoring/errors/{id}",
            get(routes::errors::error_group),
        )
        .route(
            "/api/v1/monitoring/errors/{id}/state",
            post(routes::errors::set_state),
        )
        .route(
            "/api/v1/monitoring/timeseries",
            get(routes::timeseries::timeseries),
        )
        .route(
            "/api/v1/monitoring/task-names",
            get(routes::task_names::task_names),
        )
        .route_layer(middleware::from_fn(move |request, next| {
            within(timeout, request, next)
        }));
    let protected = rest
        .route(WS_PATH, get(live::websocket))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    let open = Router::new()
        .route("/healthz", get(admin::healthz))
        .route("/readyz", get(admin::readyz))
        .route("/metrics", get(admin::metrics))
        .route("/api/openapi.json", get(openapi::serve))
        .route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found));
    let mut app = protected.merge(open);
    app = match page_dir(config.ui_dir.as_deref()) {
        Some(dir) => app.fallback_service(
            ServeDir::new(&dir)
                .append_index_html_on_directories(true)
                .fallback(ServeFile::new(dir.join("index.html"))),
        ),
        None => app.fallback(page_not_built),
    };
    let mut app = app
        .layer(middleware::from_fn(record_request))
        .with_state(state);
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    app.layer(TraceLayer::new_for_http())
}

/// The page's directory when it holds a built page.
fn page_dir(dir: Option<&Path>) -> Option<PathBuf> {
    let dir = dir?;
    if dir.join("index.html").is_file() {
        Some(dir.to_path_buf())
    } else {
        tracing::warn!(dir = %dir.display(), "no index.html in the page directory; not serving the page");
        None
    }
}

const PAGE_NOT_BUILT: &str = "tasklens: the dashboard page is not built. Build it with \
`npm --prefix ui ci && npm --prefix ui run build` (it lands in ui/dist), or point --ui-dir / \
TASKLENS_UI_DIR at a built page. The API is at /api/v1/monitoring/ and described at \
/api/openapi.json.\n";

async fn page_not_built(request: Request) -> Response {
    let status = if request.uri().path() == "/" {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    (status, PAGE_NOT_BUILT).into_response()
}

async fn api_not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!("no endpoint {}", request.uri().path()))
}

/// The token check: `Authorization: Bearer`, or `?token=` on the WebSocket (browsers cannot set
/// headers there).
async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.token.required() {
        let header = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        let query_token = (request.uri().path() == WS_PATH)
            .then(|| {
                crate::params::QueryParams::parse(request.uri().query())
                    .get("token")
                    .map(str::to_owned)
            })
            .flatten();
        if !state.token.allows(header, query_token.as_deref()) {
            return ApiError::Unauthorized(
                "this API requires a token: send Authorization: Bearer <token>".into(),
            )
            .into_response();
        }
    }
    next.run(request).await
}

async fn within(timeout: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable(format!(
            "the request took longer than {} s; retry later",
            timeout.as_secs_f64()
        ))
        .into_response(),
    }
}

async fn record_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |path| path.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    telemetry::request(&route, response.status().as_u16(), started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_request_past_its_timeout_is_a_json_503() {
        let app: Router = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    "late"
                }),
            )
            .route_layer(middleware::from_fn(|request, next| {
                within(Duration::from_millis(50), request, next)
            }));
        let request = Request::get("/slow").body(Body::empty()).expect("request");
        let response = app.oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["error"], "unavailable");
    }

    #[test]
    fn cors_origins() {
        assert!(cors_layer(&[]).expect("none").is_none());
        assert!(cors_layer(&[" ".into()]).expect("blank").is_none());
        assert!(cors_layer(&["*".into()]).expect("any").is_some());
        assert!(
            cors_layer(&["https://a.example.com".into()])
                .expect("one")
                .is_some()
        );
        assert!(matches!(
            cors_layer(&["not a url".into()]),
            Err(StartError::CorsOrigin(_))
        ));
    }
}
