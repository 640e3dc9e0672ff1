//! Live events: every new state of a run, published with the commit that writes it, so a
//! dashboard process learns of it within milliseconds and never of a change that was rolled
//! back. Each backend delivers them its own way (PostgreSQL's notifications reach every
//! process; the embedded store's [`LocalLiveHub`] this process); a subscriber sees only a
//! [`LiveSubscription`].

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tasklens_model::{SourceSystem, TaskStatus};
use tokio::sync::broadcast;

use crate::error::StoreError;
use crate::runs::RunChange;

/// Error messages in live events are cut to this many bytes; the full one is a query away.
const LIVE_ERROR_BYTES: usize = 300;

/// A run's new state, compact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveEvent {
    pub id: i64,
    pub task_id: String,
    pub task_name: String,
    /// The worker's service and environment (absent from events of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub status: TaskStatus,
    /// `None` for a run seen for the first time.
    pub previous_status: Option<TaskStatus>,
    pub source: SourceSystem,
    pub attempt: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub queue_wait_ms: Option<i64>,
    pub error_message: Option<String>,
    /// Set on the run whose failure opened a new error group (one event per new group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_error_group: Option<NewErrorGroup>,
}

/// An error group seen for the first time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewErrorGroup {
    pub id: i64,
    pub error_type: Option<String>,
    pub first_seen: DateTime<Utc>,
}

/// The events of a committed batch: one per change, the new groups on the changes that opened
/// them (by index in `changes`).
pub(crate) fn events_of(
    changes: &[RunChange],
    new_groups: Vec<(usize, NewErrorGroup)>,
) -> Vec<LiveEvent> {
    let mut events: Vec<LiveEvent> = changes.iter().map(LiveEvent::of).collect();
    for (index, mut group) in new_groups {
        if let Some(event) = events.get_mut(index) {
            group.error_type = group.error_type.map(|t| truncate(&t, 200));
            event.new_error_group = Some(group);
        }
    }
    events
}

impl LiveEvent {
    pub fn of(change: &RunChange) -> Self {
        let run = &change.run;
        let s = &run.state;
        LiveEvent {
            id: run.id,
            task_id: truncate(&s.task_id, 200),
            task_name: truncate(&s.task_name, 200),
            service_name: s.service_name.as_deref().map(|n| truncate(n, 200)),
            environment: s.environment.as_deref().map(|n| truncate(n, 200)),
            status: s.status,
            previous_status: change.previous_status,
            source: s.source,
            attempt: s.attempt,
            created_at: run.created_at,
            updated_at: run.updated_at,
            started_at: s.started_at,
            completed_at: s.completed_at,
            duration_ms: s.duration_ms(),
            queue_wait_ms: s.queue_wait_ms(),
            error_message: s
                .error_message
                .as_deref()
                .map(|m| truncate(m, LIVE_ERROR_BYTES)),
            new_error_group: None,
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// What a subscriber receives next.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveUpdate {
    /// Runs' new states, in commit order.
    Events(Vec<LiveEvent>),
    /// Some events were lost (the subscriber fell behind, or the listening connection dropped and
    /// came back): whoever shows live state must reload it from the queries.
    Missed,
}

/// Where a subscription's updates come from: one per backend.
#[async_trait]
pub(crate) trait LiveSource: Send + std::fmt::Debug {
    /// The next update; an error ends the subscription.
    async fn recv(&mut self) -> Result<LiveUpdate, StoreError>;
}

/// A subscription to live events: every run change committed from now on, by any writer the
/// backend can hear (any process on PostgreSQL, this process on an embedded store).
#[derive(Debug)]
pub struct LiveSubscription {
    source: Box<dyn LiveSource>,
}

impl LiveSubscription {
    pub(crate) fn new(source: impl LiveSource + 'static) -> Self {
        LiveSubscription {
            source: Box::new(source),
        }
    }

    /// Waits for the next update. An error means the subscription is over (the store closed, or
    /// the database refused to listen again).
    pub async fn recv(&mut self) -> Result<LiveUpdate, StoreError> {
        self.source.recv().await
    }

    /// The next update's events, treating a gap as an error: for tests and tools that must not
    /// miss anything.
    pub async fn recv_events(&mut self) -> Result<Vec<LiveEvent>, StoreError> {
        match self.recv().await? {
            LiveUpdate::Events(events) => Ok(events),
            LiveUpdate::Missed => Err(StoreError::LiveMissed),
        }
    }
}

/// Live events inside one process, for a backend without a notification channel of its own.
/// Publishing never waits: a subscriber that falls more than `capacity` batches behind gets
/// [`LiveUpdate::Missed`].
#[derive(Debug, Clone)]
pub struct LocalLiveHub {
    sender: broadcast::Sender<Arc<[LiveEvent]>>,
}

impl LocalLiveHub {
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        LocalLiveHub { sender }
    }

    /// Call after the commit that made these changes, never before.
    pub fn publish(&self, events: Vec<LiveEvent>) {
        if !events.is_empty() {
            // No subscriber is not an error.
            let _ = self.sender.send(events.into());
        }
    }

    pub fn subscribe(&self) -> LiveSubscription {
        LiveSubscription::new(LocalReceiver(self.sender.subscribe()))
    }
}

#[derive(Debug)]
struct LocalReceiver(broadcast::Receiver<Arc<[LiveEvent]>>);

#[async_trait]
impl LiveSource for LocalReceiver {
    async fn recv(&mut self) -> Result<LiveUpdate, StoreError> {
        match self.0.recv().await {
            Ok(events) => Ok(LiveUpdate::Events(events.to_vec())),
            Err(broadcast::error::RecvError::Lagged(_)) => Ok(LiveUpdate::Missed),
            Err(broadcast::error::RecvError::Closed) => Err(StoreError::LiveClosed),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn event(i: i64) -> LiveEvent {
        LiveEvent {
            id: i,
            task_id: format!("{i:036}"),
            task_name: "embed_messages_batch".into(),
            service_name: Some("embedder".into()),
            environment: None,
            status: TaskStatus::Failed,
            previous_status: Some(TaskStatus::Running),
            source: SourceSystem::Celery,
            attempt: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            started_at: Some(Utc::now()),
            completed_at: Some(Utc::now()),
            duration_ms: Some(12),
            queue_wait_ms: None,
            error_message: Some("é".repeat(400)),
            new_error_group: None,
        }
    }

    #[tokio::test]
    async fn a_local_subscriber_that_falls_behind_is_told_it_missed_events() {
        let ids = |update: LiveUpdate| match update {
            LiveUpdate::Events(events) => events.iter().map(|e| e.id).collect::<Vec<_>>(),
            LiveUpdate::Missed => vec![-1],
        };
        let hub = LocalLiveHub::new(2);
        let mut subscription = hub.subscribe();
        hub.publish(vec![event(1)]);
        assert_eq!(ids(subscription.recv().await.expect("recv")), vec![1]);
        for i in 10..15 {
            hub.publish(vec![event(i)]);
        }
        assert_eq!(ids(subscription.recv().await.expect("recv")), vec![-1]);
        assert_eq!(ids(subscription.recv().await.expect("recv")), vec![13]);
        assert_eq!(ids(subscription.recv().await.expect("recv")), vec![14]);
    }

    #[test]
    fn long_error_messages_are_cut_on_a_char_boundary() {
        let cut = truncate(&"é".repeat(400), LIVE_ERROR_BYTES);
        assert!(cut.len() <= LIVE_ERROR_BYTES + "…".len());
        assert!(cut.ends_with('…'));
    }
}
