//! The live feed: one store subscription per process, fanned out to every WebSocket client.
//!
//! The hub never waits on a client. Each client has a bounded queue; when it is full the
//! client's backlog is dropped and it is told to resync (`slow_client`), so a slow reader costs
//! only itself. Events the store's listener lost, or that passed while the subscription was being
//! re-established, make every client resync (`missed_events`). Only status changes are sent.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::SinkExt;
use serde::{Deserialize, Serialize};
use tasklens_store::{LiveEvent, LiveSubscription, LiveUpdate, TaskStore};
use tokio::sync::{Notify, watch};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::server::AppState;
use crate::telemetry;
use crate::wire::{RunSource, RunStatus};

/// The largest message a client may send (a filter with many task names fits easily).
const MAX_CLIENT_MESSAGE_BYTES: usize = 64 * 1024;

/// The most queued messages a client's writer hands to its socket before one flush: one system
/// call carries many small frames when events come in bursts (a collector batch at a time).
const MAX_FRAMES_PER_FLUSH: usize = 256;

/// A message from the server (one JSON object per text frame).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// A run changed status (one message per change).
    TaskStatusChanged {
        task_name: String,
        status: RunStatus,
        /// When the change was committed (the run's `updated_at`).
        timestamp: DateTime<Utc>,
        data: StatusChange,
    },
    /// The client must reload from the REST endpoints: events were dropped for it.
    Resync {
        timestamp: DateTime<Utc>,
        data: ResyncData,
    },
    /// Acknowledges a filter.
    Subscribed {
        timestamp: DateTime<Utc>,
        data: SubscriptionFilter,
    },
    /// The client sent something the server does not understand; the connection stays open.
    Error {
        timestamp: DateTime<Utc>,
        data: ErrorData,
    },
}

/// The run whose status changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusChange {
    pub id: i64,
    pub task_id: String,
    /// Null for a run seen for the first time.
    pub previous_status: Option<RunStatus>,
    pub source: RunSource,
    pub attempt: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub queue_wait_ms: Option<i64>,
    /// Cut to 300 bytes; the full message is in the run's detail.
    pub error_message: Option<String>,
}

/// Why the client must reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResyncReason {
    /// The client read too slowly: its queued messages were dropped.
    SlowClient,
    /// The server's listener lost events (a dropped database connection).
    MissedEvents,
}

impl ResyncReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::SlowClient => "slow_client",
            Self::MissedEvents => "missed_events",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResyncData {
    pub reason: ResyncReason,
}

/// Which changes a client receives; null means all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionFilter {
    pub task_names: Option<Vec<String>>,
    pub statuses: Option<Vec<RunStatus>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorData {
    pub message: String,
}

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Receive only these task types and statuses from now on (null: all).
    Subscribe {
        #[serde(default)]
        task_names: Option<Vec<String>>,
        #[serde(default)]
        statuses: Option<Vec<RunStatus>>,
    },
}

impl ServerMessage {
    /// The message for a store event, or `None` when the event is not a status change.
    pub fn of_event(event: &LiveEvent) -> Option<Self> {
        if event.previous_status == Some(event.status) {
            return None;
        }
        Some(ServerMessage::TaskStatusChanged {
            task_name: event.task_name.clone(),
            status: event.status.into(),
            timestamp: event.updated_at,
            data: StatusChange {
                id: event.id,
                task_id: event.task_id.clone(),
                previous_status: event.previous_status.map(RunStatus::from),
                source: event.source.into(),
                attempt: event.attempt,
                created_at: event.created_at,
                started_at: event.started_at,
                completed_at: event.completed_at,
                duration_ms: event.duration_ms,
                queue_wait_ms: event.queue_wait_ms,
                error_message: event.error_message.clone(),
            },
        })
    }

    fn resync(reason: ResyncReason) -> Self {
        ServerMessage::Resync {
            timestamp: Utc::now(),
            data: ResyncData { reason },
        }
    }

    fn to_text(&self) -> String {
        // Serialising these plain structs cannot fail; an empty object is a safe fallback.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// A client's filter, in the form the hub checks.
#[derive(Debug, Default)]
struct Filter {
    task_names: Option<HashSet<String>>,
    statuses: Option<HashSet<RunStatus>>,
}

impl Filter {
    fn of(subscription: &SubscriptionFilter) -> Self {
        Filter {
            task_names: subscription
                .task_names
                .as_ref()
                .map(|names| names.iter().cloned().collect()),
            statuses: subscription
                .statuses
                .as_ref()
                .map(|statuses| statuses.iter().copied().collect()),
        }
    }

    fn admits(&self, task_name: &str, status: RunStatus) -> bool {
        self.task_names
            .as_ref()
            .is_none_or(|names| names.contains(task_name))
            && self
                .statuses
                .as_ref()
                .is_none_or(|statuses| statuses.contains(&status))
    }
}

/// What a client's writer sends next. A message's text is shared by every client that gets it
/// (`Utf8Bytes` clones a reference, not the bytes).
#[derive(Debug, Clone, PartialEq)]
enum Outgoing {
    Message(Utf8Bytes),
    Resync(ResyncReason),
}

impl Outgoing {
    fn into_frame(self) -> Message {
        match self {
            Outgoing::Message(text) => Message::Text(text),
            Outgoing::Resync(reason) => {
                Message::Text(ServerMessage::resync(reason).to_text().into())
            }
        }
    }
}

#[derive(Debug, Default)]
struct QueueState {
    messages: VecDeque<Utf8Bytes>,
    /// A resync owed to the client; it goes before any message queued after it.
    resync: Option<ResyncReason>,
}

/// A client's bounded queue. Pushing never waits.
#[derive(Debug)]
struct ClientQueue {
    state: Mutex<QueueState>,
    ready: Notify,
    capacity: usize,
}

impl ClientQueue {
    fn new(capacity: usize) -> Self {
        ClientQueue {
            state: Mutex::new(QueueState::default()),
            ready: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message; a full queue is emptied and owes the client one resync.
    #[cfg(test)]
    fn push(&self, message: Utf8Bytes) {
        self.push_all(std::iter::once(message));
    }

    /// Queues messages in order, under one lock; whenever the queue is full it is emptied and
    /// owes the client one resync.
    fn push_all(&self, messages: impl Iterator<Item = Utf8Bytes>) {
        let was_idle = {
            let mut state = self.lock();
            let was_idle = state.messages.is_empty() && state.resync.is_none();
            for message in messages {
                if state.messages.len() >= self.capacity {
                    state.messages.clear();
                    if state.resync.is_none() {
                        state.resync = Some(ResyncReason::SlowClient);
                        telemetry::websocket_resync(ResyncReason::SlowClient.as_str());
                    }
                } else {
                    state.messages.push_back(message);
                }
            }
            was_idle && !(state.messages.is_empty() && state.resync.is_none())
        };
        // A writer only waits after finding the queue empty, so only the push that ends an empty
        // spell needs to wake it.
        if was_idle {
            self.ready.notify_one();
        }
    }

    /// Drops the backlog (the client reloads anyway) and owes the client a resync.
    fn resync(&self, reason: ResyncReason) {
        {
            let mut state = self.lock();
            state.messages.clear();
            if state.resync.is_none() {
                state.resync = Some(reason);
                telemetry::websocket_resync(reason.as_str());
            }
        }
        self.ready.notify_one();
    }

    fn try_next(&self) -> Option<Outgoing> {
        let mut state = self.lock();
        if let Some(reason) = state.resync.take() {
            return Some(Outgoing::Resync(reason));
        }
        state.messages.pop_front().map(Outgoing::Message)
    }

    /// Moves up to `max` further messages into `batch`, without waiting.
    fn drain_into(&self, batch: &mut Vec<Outgoing>, max: usize) {
        let mut state = self.lock();
        if let Some(reason) = state.resync.take() {
            // Anything taken before the resync is obsolete: the client reloads anyway.
            batch.clear();
            batch.push(Outgoing::Resync(reason));
        }
        let room = max.saturating_sub(batch.len());
        let take = room.min(state.messages.len());
        batch.extend(state.messages.drain(..take).map(Outgoing::Message));
    }

    /// The next thing to send. Cancel-safe: nothing is taken unless it is returned.
    async fn next(&self) -> Outgoing {
        loop {
            if let Some(next) = self.try_next() {
                return next;
            }
            self.ready.notified().await;
        }
    }
}

#[derive(Debug)]
struct ClientSlot {
    queue: ClientQueue,
    filter: RwLock<Filter>,
}

/// The clients of one process and the fan-out to them.
#[derive(Debug)]
pub struct LiveHub {
    clients: Mutex<HashMap<u64, Arc<ClientSlot>>>,
    next_id: AtomicU64,
    client_buffer: usize,
}

/// A client's place in the hub; leaving it removes the client.
#[derive(Debug)]
struct Registration {
    hub: Arc<LiveHub>,
    id: u64,
    slot: Arc<ClientSlot>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let remaining = {
            let mut clients = self.hub.lock();
            clients.remove(&self.id);
            clients.len()
        };
        telemetry::websocket_clients(remaining);
    }
}

impl LiveHub {
    pub fn new(client_buffer: usize) -> Self {
        LiveHub {
            clients: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            client_buffer,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ClientSlot>>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(self: &Arc<Self>) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(ClientSlot {
            queue: ClientQueue::new(self.client_buffer),
            filter: RwLock::new(Filter::default()),
        });
        let count = {
            let mut clients = self.lock();
            clients.insert(id, slot.clone());
            clients.len()
        };
        telemetry::websocket_clients(count);
        Registration {
            hub: self.clone(),
            id,
            slot,
        }
    }

    fn slots(&self) -> Vec<Arc<ClientSlot>> {
        self.lock().values().cloned().collect()
    }

    /// Queues each status change for every client whose filter admits it. Each message is
    /// serialized once; each client's queue is locked once per batch of events.
    fn fan_out(&self, events: &[LiveEvent]) {
        let slots = self.slots();
        if slots.is_empty() {
            return;
        }
        let messages: Vec<(&str, RunStatus, Utf8Bytes)> = events
            .iter()
            .filter_map(|event| {
                let message = ServerMessage::of_event(event)?;
                Some((
                    event.task_name.as_str(),
                    RunStatus::from(event.status),
                    Utf8Bytes::from(message.to_text()),
                ))
            })
            .collect();
        if messages.is_empty() {
            return;
        }
        for slot in &slots {
            let filter = slot.filter.read().unwrap_or_else(PoisonError::into_inner);
            slot.queue.push_all(
                messages
                    .iter()
                    .filter(|(task_name, status, _)| filter.admits(task_name, *status))
                    .map(|(_, _, text)| text.clone()),
            );
        }
    }

    fn resync_all(&self, reason: ResyncReason) {
        for slot in self.slots() {
            slot.queue.resync(reason);
        }
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Feeds the hub from the store until stopped, subscribing again (with backoff) when the
/// subscription ends.
pub async fn run_hub(
    hub: Arc<LiveHub>,
    store: Arc<dyn TaskStore>,
    first: Option<LiveSubscription>,
    mut stop: watch::Receiver<bool>,
) {
    const FIRST_BACKOFF: Duration = Duration::from_millis(100);
    const MAX_BACKOFF: Duration = Duration::from_secs(10);
    let mut backoff = FIRST_BACKOFF;
    let mut current = first;
    loop {
        let mut subscription = match current.take() {
            Some(subscription) => subscription,
            None => {
                let subscribed = tokio::select! {
                    () = stopped(&mut stop) => return,
                    subscribed = store.subscribe() => subscribed,
                };
                match subscribed {
                    Ok(subscription) => {
                        tracing::info!("live events: subscribed again");
                        backoff = FIRST_BACKOFF;
                        // Changes made while there was no subscription are gone.
                        hub.resync_all(ResyncReason::MissedEvents);
                        subscription
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, retry_in = ?backoff, "live events: cannot subscribe");
                        tokio::select! {
                            () = stopped(&mut stop) => return,
                            () = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            }
        };
        loop {
            let update = tokio::select! {
                () = stopped(&mut stop) => return,
                update = subscription.recv() => update,
            };
            match update {
                Ok(LiveUpdate::Events(events)) => hub.fan_out(&events),
                Ok(LiveUpdate::Missed) => hub.resync_all(ResyncReason::MissedEvents),
                Err(err) => {
                    tracing::warn!(error = %err, "live events: subscription ended");
                    // Whatever ended it (a reset connection, a database that refuses new ones),
                    // changes are being missed from now on: clients reload now, and again once
                    // subscribed (for the changes made meanwhile).
                    hub.resync_all(ResyncReason::MissedEvents);
                    break;
                }
            }
        }
    }
}

/// The live feed of status changes.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/ws",
    tag = "monitoring",
    description = "WebSocket. The server sends `ServerMessage` text frames; the client may send \
                   `ClientMessage` frames (a filter). When a token is configured, pass it as \
                   `Authorization: Bearer` or as the `token` query parameter.",
    params(("token" = Option<String>, Query, description = "The API token, for browsers")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade", body = crate::error::ErrorBody),
        (status = 401, description = "Token missing or wrong", body = crate::error::ErrorBody),
    ),
    security((), ("bearer" = []))
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

/// What the server answers to a client's frame, and the filter it sets.
fn answer(text: &str) -> (ServerMessage, Option<SubscriptionFilter>) {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(ClientMessage::Subscribe {
            task_names,
            statuses,
        }) => {
            let filter = SubscriptionFilter {
                task_names,
                statuses,
            };
            let ack = ServerMessage::Subscribed {
                timestamp: Utc::now(),
                data: filter.clone(),
            };
            (ack, Some(filter))
        }
        Err(err) => (
            ServerMessage::Error {
                timestamp: Utc::now(),
                data: ErrorData {
                    message: format!(
                        "expected {{\"type\":\"subscribe\",\"task_names\":[..]|null,\
                         \"statuses\":[..]|null}}: {err}"
                    ),
                },
            },
            None,
        ),
    }
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

#[cfg(test)]
mod tests {
    use tasklens_model::{SourceSystem, TaskStatus};

    use super::*;

    fn event(id: i64, status: TaskStatus, previous: Option<TaskStatus>) -> LiveEvent {
        LiveEvent {
            id,
            task_id: format!("t{id}"),
            task_name: "score_message".into(),
            status,
            previous_status: previous,
            source: SourceSystem::Celery,
            attempt: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            started_at: None,
            completed_at: None,
            duration_ms: None,
            queue_wait_ms: None,
            error_message: None,
        }
    }

    #[test]
    fn only_status_changes_become_messages() {
        use TaskStatus::*;
        assert!(ServerMessage::of_event(&event(1, Pending, None)).is_some());
        assert!(ServerMessage::of_event(&event(1, Running, Some(Pending))).is_some());
        assert!(ServerMessage::of_event(&event(1, Running, Some(Running))).is_none());
    }

    #[test]
    fn filters() {
        let filter = |names: Option<&[&str]>, statuses: Option<&[RunStatus]>| {
            Filter::of(&SubscriptionFilter {
                task_names: names.map(|n| n.iter().map(|s| (*s).to_owned()).collect()),
                statuses: statuses.map(<[RunStatus]>::to_vec),
            })
        };
        assert!(filter(None, None).admits("a", RunStatus::Failed));
        assert!(filter(Some(&["a"]), None).admits("a", RunStatus::Success));
        assert!(!filter(Some(&["a"]), None).admits("b", RunStatus::Success));
        assert!(!filter(Some(&[]), None).admits("a", RunStatus::Success));
        let failed_a = filter(Some(&["a"]), Some(&[RunStatus::Failed]));
        assert!(failed_a.admits("a", RunStatus::Failed));
        assert!(!failed_a.admits("a", RunStatus::Success));
        assert!(!failed_a.admits("b", RunStatus::Failed));
    }

    #[test]
    fn a_full_queue_drops_its_backlog_and_owes_one_resync() {
        let queue = ClientQueue::new(2);
        let msg = |s: &str| Utf8Bytes::from(s.to_owned());
        queue.push(msg("1"));
        queue.push(msg("2"));
        queue.push(msg("3")); // full: backlog dropped, resync owed
        queue.push(msg("4"));
        queue.push(msg("5"));
        queue.push(msg("6")); // full again: still one resync
        assert_eq!(
            queue.try_next(),
            Some(Outgoing::Resync(ResyncReason::SlowClient))
        );
        assert_eq!(queue.try_next(), None);
        queue.push(msg("7"));
        assert_eq!(queue.try_next(), Some(Outgoing::Message(msg("7"))));
        queue.push(msg("8"));
        queue.resync(ResyncReason::MissedEvents);
        assert_eq!(
            queue.try_next(),
            Some(Outgoing::Resync(ResyncReason::MissedEvents))
        );
        assert_eq!(queue.try_next(), None);
    }

    #[test]
    fn a_drain_takes_what_is_queued_up_to_its_bound_and_a_resync_supersedes_it() {
        let queue = ClientQueue::new(10);
        let msg = |s: &str| Utf8Bytes::from(s.to_owned());
        for n in 0..5 {
            queue.push(msg(&n.to_string()));
        }
        let mut batch = vec![Outgoing::Message(msg("first"))];
        queue.drain_into(&mut batch, 3);
        assert_eq!(
            batch,
            ["first", "0", "1"]
                .map(|s| Outgoing::Message(msg(s)))
                .to_vec()
        );
        queue.resync(ResyncReason::MissedEvents);
        queue.push(msg("after"));
        let mut batch = vec![Outgoing::Message(msg("stale"))];
        queue.drain_into(&mut batch, 3);
        assert_eq!(
            batch,
            vec![
                Outgoing::Resync(ResyncReason::MissedEvents),
                Outgoing::Message(msg("after"))
            ]
        );
    }

    #[test]
    fn client_messages() {
        let (reply, filter) = answer(r#"{"type":"subscribe","task_names":["a"],"statuses":null}"#);
        assert!(matches!(reply, ServerMessage::Subscribed { .. }));
        assert_eq!(
            filter,
            Some(SubscriptionFilter {
                task_names: Some(vec!["a".into()]),
                statuses: None
            })
        );
        let (_, filter) = answer(r#"{"type":"subscribe"}"#);
        assert_eq!(filter, Some(SubscriptionFilter::default()));
        for bad in [
            r#"{"type":"subscribe","statuses":["done"]}"#,
            "nonsense",
            r#"{"type":"x"}"#,
        ] {
            let (reply, filter) = answer(bad);
            assert!(matches!(reply, ServerMessage::Error { .. }), "{bad}");
            assert_eq!(filter, None);
        }
    }
}
