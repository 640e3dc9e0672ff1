//! The tasklens collector service. Today it hosts the store's maintenance schedule; the OTLP
//! receivers arrive with the collector issue.

pub mod retention;
