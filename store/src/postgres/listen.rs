//! Receiving live events from another process (LISTEN).

use sqlx::postgres::PgListener;

use crate::error::StoreError;
use crate::live::{LIVE_CHANNEL, LiveEvent};

/// A subscription to the live channel, on a connection of its own.
#[derive(Debug)]
pub struct LiveSubscription {
    listener: PgListener,
}

impl LiveSubscription {
    pub(super) async fn new(pool: &sqlx::PgPool) -> Result<Self, StoreError> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(LIVE_CHANNEL).await?;
        Ok(LiveSubscription { listener })
    }

    /// The next notification's events. After a lost connection it reconnects by itself;
    /// notifications sent meanwhile are lost, which the caller should treat as "resync".
    pub async fn recv(&mut self) -> Result<Vec<LiveEvent>, StoreError> {
        loop {
            let notification = self.listener.recv().await?;
            match serde_json::from_str::<Vec<LiveEvent>>(notification.payload()) {
                Ok(events) => return Ok(events),
                Err(err) => tracing::warn!(error = %err, "ignoring a malformed live notification"),
            }
        }
    }
}
