//! What the tasklens services (the collector and the dashboard API) share: the optional bearer
//! token, the handle of a server that is serving, and the process-wide Prometheus recorder.
//! Each module stands alone; none imports another.

pub mod auth;
pub mod running;
pub mod telemetry;

pub use auth::TokenCheck;
pub use running::{BindError, RunningServer, bind, stopped};
