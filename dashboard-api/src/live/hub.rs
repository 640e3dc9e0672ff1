//! The hub: the clients of one process, and one store subscription fanned out to them. The hub
//! never waits on a client; events the store's listener lost, or that passed while the
//! subscription was being re-established, make every client resync.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use tasklens_store::{LiveEvent, LiveSubscription, LiveUpdate, TaskStore};
use tokio::sync::watch;

use super::protocol::{Filter, ResyncReason, ServerMessage};
use super::queue::ClientQueue;
use crate::telemetry;

/// One client as the hub sees it: its queue and the filter it set.
#[derive(Debug)]
pub(super) struct ClientSlot {
    pub(super) queue: ClientQueue,
    pub(super) filter: RwLock<Filter>,
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
pub(super) struct Registration {
    hub: Arc<LiveHub>,
    id: u64,
    pub(super) slot: Arc<ClientSlot>,
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

    pub(super) fn register(self: &Arc<Self>) -> Registration {
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

    /// Queues each status change (and new error group) for every client whose filter admits its
    /// run. Each message is
    /// serialized once; each client's queue is locked once per batch of events.
    fn fan_out(&self, events: &[LiveEvent]) {
        let slots = self.slots();
        if slots.is_empty() {
            return;
        }
        let messages: Vec<(&LiveEvent, Utf8Bytes)> = events
            .iter()
            .flat_map(|event| {
                ServerMessage::of_event(event)
                    .map(move |message| (event, Utf8Bytes::from(message.to_text())))
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
                    .filter(|(event, _)| filter.admits(event))
                    .map(|(_, text)| text.clone()),
            );
        }
    }

    fn resync_all(&self, reason: ResyncReason) {
        for slot in self.slots() {
            slot.queue.resync(reason);
        }
    }
}

/// Returns once `stop` turns true.
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
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
