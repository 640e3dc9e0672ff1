//! A client's WebSocket: the upgrade, then one task that reads the client's filters and writes
//! its queue, pings an idle peer and closes on shutdown.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use tokio::sync::watch;

use super::hub::{LiveHub, stopped};
use super::protocol::{Filter, answer};
use super::queue::Outgoing;
use crate::error::ApiError;
use crate::state::AppState;

/// The largest message a client may send (a filter with many task names fits easily).
const MAX_CLIENT_MESSAGE_BYTES: usize = 64 * 1024;

/// The most queued messages a client's writer hands to its socket before one flush: one system
/// call carries many small frames when events come in bursts (a collector batch at a time).
const MAX_FRAMES_PER_FLUSH: usize = 256;

/// The live feed of status changes.
///
/// The handshake headers are what axum's `WebSocketUpgrade` checks, exactly: a request without
/// them is answered 400 with the API's error body, naming the header.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/ws",
    tag = "monitoring",
    description = "WebSocket. The server sends `ServerMessage` text frames; the client may send \
                   `ClientMessage` frames (a filter). When a token is configured, pass it as \
                   `Authorization: Bearer` or, from a browser, as the `token` query parameter \
                   (`query_token`).",
    params(
        ("Connection" = String, Header, pattern = "[Uu][Pp][Gg][Rr][Aa][Dd][Ee]",
         description = "Contains `upgrade` (any case)"),
        ("Upgrade" = String, Header, pattern = "^[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]$",
         description = "`websocket` (any case)"),
        ("Sec-WebSocket-Version" = String, Header, pattern = "^13$", description = "`13`"),
        ("Sec-WebSocket-Key" = String, Header,
         description = "The client's nonce (RFC 6455), echoed hashed in `Sec-WebSocket-Accept`"),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade: a handshake header is missing or wrong",
         body = crate::error::ErrorBody),
        (status = 401, description = "Token missing or wrong", body = crate::error::ErrorBody),
    ),
    security((), ("bearer" = []), ("query_token" = []))
)]
pub async fn websocket(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return ApiError::BadRequest(rejection.body_text()).into_response(),
    };
    let hub = state.hub.clone();
    let stop = state.stop.clone();
    let ping_interval = state.ws_ping_interval;
    let alive = state.ws_alive.clone();
    // Clients only send small filters; a big frame is refused rather than buffered.
    let upgrade = upgrade
        .max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .max_frame_size(MAX_CLIENT_MESSAGE_BYTES);
    upgrade.on_upgrade(move |socket| async move {
        serve_client(socket, &hub, stop, ping_interval).await;
        drop(alive);
    })
}

async fn serve_client(
    mut socket: WebSocket,
    hub: &Arc<LiveHub>,
    mut stop: watch::Receiver<bool>,
    ping_interval: Duration,
) {
    let registration = hub.register();
    let slot = registration.slot.clone();
    // A frame the peer does not take within this long means it is gone.
    let send_timeout = ping_interval * 2;
    let mut ping =
        tokio::time::interval_at(tokio::time::Instant::now() + ping_interval, ping_interval);
    let mut heard_since_ping = true;
    let mut batch: Vec<Outgoing> = Vec::with_capacity(MAX_FRAMES_PER_FLUSH);
    loop {
        let outgoing = tokio::select! {
            () = stopped(&mut stop) => {
                let close = CloseFrame { code: close_code::AWAY, reason: "server shutting down".into() };
                let _ = tokio::time::timeout(send_timeout, socket.send(Message::Close(Some(close)))).await;
                break;
            }
            incoming = socket.recv() => {
                heard_since_ping = true;
                match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(Message::Text(text))) => {
                        let (reply, filter) = answer(text.as_str());
                        if let Some(filter) = filter {
                            *slot.filter.write().unwrap_or_else(PoisonError::into_inner) =
                                Filter::of(&filter);
                        }
                        Message::Text(reply.to_text().into())
                    }
                    Some(Ok(Message::Binary(_))) => Message::Text(answer("binary frame").0.to_text().into()),
                    // Pings are answered by the WebSocket layer; pongs only prove liveness.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                }
            }
            next = slot.queue.next() => {
                batch.clear();
                batch.push(next);
                slot.queue.drain_into(&mut batch, MAX_FRAMES_PER_FLUSH);
                let sent = tokio::time::timeout(send_timeout, send_batch(&mut socket, &mut batch)).await;
                if !matches!(sent, Ok(Ok(()))) {
                    break;
                }
                continue;
            }
            _ = ping.tick() => {
                if !heard_since_ping {
                    tracing::debug!("websocket client answered no ping; closing");
                    break;
                }
                heard_since_ping = false;
                let sent = tokio::time::timeout(send_timeout, socket.send(Message::Ping(Default::default()))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    break;
                }
                continue;
            }
        };
        let sent = tokio::time::timeout(send_timeout, socket.send(outgoing)).await;
        if !matches!(sent, Ok(Ok(()))) {
            break;
        }
    }
    drop(registration);
}

/// Writes the frames of `batch` and flushes once.
async fn send_batch(socket: &mut WebSocket, batch: &mut Vec<Outgoing>) -> Result<(), axum::Error> {
    for outgoing in batch.drain(..) {
        socket.feed(outgoing.into_frame()).await?;
    }
    socket.flush().await
}
