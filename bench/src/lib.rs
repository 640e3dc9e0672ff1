//! What the `tasklens-bench` binaries share: the OTLP requests and the runs the load clients
//! (`src/bin/collector_load.rs`, `src/bin/api_load.rs`) send, and the percentiles they report.

pub mod load;
pub mod otlp;
pub mod stats;
