//! The live feed: one store subscription per process, fanned out to every WebSocket client.
//!
//! The hub never waits on a client. Each client has a bounded queue; when it is full the
//! client's backlog is dropped and it is told to resync (`slow_client`), so a slow reader costs
//! only itself. Events the store's listener lost, or that passed while the subscription was being
//! re-established, make every client resync (`missed_events`). Only status changes are sent.
//!
//! Layers, lowest first (each imports only those below it): `protocol` (the messages and
//! filters), `queue` (a client's bounded queue), `hub` (the clients and the fan-out), `socket`
//! (a client's WebSocket; it reads the shared state, which holds the hub).

pub(crate) mod hub;
mod protocol;
mod queue;
pub(crate) mod socket;

pub use hub::{LiveHub, run_hub};
pub use protocol::{
    ClientMessage, ErrorData, NewErrorGroupData, ResyncData, ResyncReason, ServerMessage,
    StatusChange, SubscriptionFilter,
};
pub use socket::websocket;
