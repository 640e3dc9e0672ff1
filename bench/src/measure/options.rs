//! What `run` measures, and how much.

/// What `run` measures, and how much.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub database_url: String,
    /// Runs per write measurement (M); the lifecycle measurement uses M/4.
    pub writes: usize,
    /// Repetitions of each write measurement (interleaved).
    pub repeats: usize,
    pub warmup: usize,
    pub samples: usize,
    pub clients: usize,
    pub calls_per_client: usize,
    pub seed: u64,
    /// Days ahead of the maintenance policy `run` applies at start (kept by retention).
    pub days_ahead: u32,
    pub skip_queries: bool,
    pub skip_writes: bool,
    pub skip_load: bool,
    pub skip_retention: bool,
}
