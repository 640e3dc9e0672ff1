//! Receiving live events from any process (LISTEN).

use sqlx::postgres::PgListener;

use crate::error::StoreError;
use crate::live::{LIVE_CHANNEL, LiveEvent, LiveUpdate};

/// LISTEN on the live channel, on a connection of its own.
#[derive(Debug)]
pub struct PgLiveListener {
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

    /// The next notification's events. A lost connection is reported as [`LiveUpdate::Missed`]
    /// (notifications sent meanwhile are gone); the next call reconnects and listens again.
    pub(crate) async fn recv(&mut self) -> Result<LiveUpdate, StoreError> {
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
