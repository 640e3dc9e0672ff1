//! The optional bearer token: the check every tasklens service shares. The API also accepts it
//! as a `token` query value on the WebSocket, where browsers cannot set headers (see
//! `server::authorize`).

pub use tasklens_service::TokenCheck;
