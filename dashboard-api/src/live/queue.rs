//! A client's bounded queue of outgoing messages. Pushing never waits: when the queue is full
//! its backlog is dropped and the client is owed one resync, so a slow reader costs only itself.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use axum::extract::ws::{Message, Utf8Bytes};
use tokio::sync::Notify;

use super::protocol::{ResyncReason, ServerMessage};
use crate::telemetry;

/// What a client's writer sends next. A message's text is shared by every client that gets it
/// (`Utf8Bytes` clones a reference, not the bytes).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outgoing {
    Message(Utf8Bytes),
    Resync(ResyncReason),
}

impl Outgoing {
    pub(super) fn into_frame(self) -> Message {
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
pub(super) struct ClientQueue {
    state: Mutex<QueueState>,
    ready: Notify,
    capacity: usize,
}

impl ClientQueue {
    pub(super) fn new(capacity: usize) -> Self {
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
    pub(super) fn push_all(&self, messages: impl Iterator<Item = Utf8Bytes>) {
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
    pub(super) fn resync(&self, reason: ResyncReason) {
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
    pub(super) fn drain_into(&self, batch: &mut Vec<Outgoing>, max: usize) {
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
    pub(super) async fn next(&self) -> Outgoing {
        loop {
            if let Some(next) = self.try_next() {
                return next;
            }
            self.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
