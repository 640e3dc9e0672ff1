//! What the load clients (`src/bin/collector_load.rs`, `src/bin/api_load.rs`) share: the seed's
//! task types and the OTLP request they send.

pub mod otlp;
