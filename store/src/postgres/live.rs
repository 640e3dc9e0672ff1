//! Live events on PostgreSQL: a batch's events go out as NOTIFY payloads on [`LIVE_CHANNEL`]
//! in its transaction (delivered only when it commits), and every process LISTENs. A
//! notification carries a JSON array of [`LiveEvent`]s, several per notification, under
//! PostgreSQL's 8000-byte payload limit.

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use sqlx::{Postgres, Transaction};

use crate::error::StoreError;
use crate::live::{LiveEvent, LiveSource, LiveUpdate, NewErrorGroup, events_of};
use crate::runs::RunChange;

/// The notification channel.
const LIVE_CHANNEL: &str = "tasklens_run_changes";
/// PostgreSQL refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD_BYTES: usize = 7900;

/// Publishes a batch's changes on the live channel, in its transaction.
pub(super) async fn notify(
    changed: &[RunChange],
    new_groups: Vec<(usize, NewErrorGroup)>,
    tx: &mut Transaction<'_, Postgres>,
) -> Result<(), StoreError> {
    if changed.is_empty() {
        return Ok(());
    }
    let events = events_of(changed, new_groups);
    sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
        .bind(LIVE_CHANNEL)
        .bind(payloads(&events))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Packs events into JSON-array payloads that each fit one notification.
fn payloads(events: &[LiveEvent]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = String::from("[");
    for event in events {
        let Ok(json) = serde_json::to_string(event) else {
            continue;
        };
        if current.len() > 1 && current.len() + json.len() + 2 > MAX_PAYLOAD_BYTES {
            current.push(']');
            payloads.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&json);
    }
    if current.len() > 1 {
        current.push(']');
        payloads.push(current);
    }
    payloads
}

/// LISTEN on the live channel, on a connection of its own.
#[derive(Debug)]
pub(super) struct PgLiveListener {
    listener: PgListener,
}

impl PgLiveListener {
    pub(super) async fn new(pool: &sqlx::PgPool) -> Result<Self, StoreError> {
        let mut listener = PgListener::connect_with(pool).await?;
        // Report a lost connection at once (`Ok(None)` from `try_recv`), and reconnect on the
        // next call: an eager reconnect that fails (the database still unreachable) would turn
        // the loss into an error, and the caller would never learn that events were missed.
        listener.eager_reconnect(false);
        listener.listen(LIVE_CHANNEL).await?;
        Ok(PgLiveListener { listener })
    }
}

#[async_trait]
impl LiveSource for PgLiveListener {
    /// The next notification's events. A lost connection is reported as [`LiveUpdate::Missed`]
    /// (notifications sent meanwhile are gone); the next call reconnects and listens again.
    async fn recv(&mut self) -> Result<LiveUpdate, StoreError> {
        loop {
            let Some(notification) = self.listener.try_recv().await? else {
                return Ok(LiveUpdate::Missed);
            };
            match serde_json::from_str::<Vec<LiveEvent>>(notification.payload()) {
                Ok(events) => return Ok(LiveUpdate::Events(events)),
                Err(err) => tracing::warn!(error = %err, "ignoring a malformed live notification"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::tests::event;

    #[test]
    fn payloads_fit_a_notification_and_lose_nothing() {
        let events: Vec<_> = (0..500).map(event).collect();
        let packed = payloads(&events);
        assert!(packed.len() > 1);
        let mut back = Vec::new();
        for payload in &packed {
            assert!(payload.len() < 8000, "{}", payload.len());
            back.extend(serde_json::from_str::<Vec<LiveEvent>>(payload).expect("json"));
        }
        assert_eq!(back, events);
    }
}
