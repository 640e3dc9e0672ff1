//! The store core: every rule and fold that does not depend on the database, written once for
//! both backends. Pure: no I/O, no SQL.
//!
//! - [`batch`]: a batch's events merged per run, then planned against the rows that exist (what
//!   to insert, what to update, what changed, what to add to the rollups);
//! - [`figures`]: rollup rows and raw rows summed per task type, lanes of one bucket folded, and
//!   the sums turned into the numbers the dashboard shows;
//! - [`groups`]: which error group each failed run joins or leaves, and what the batch adds to
//!   the groups and their rollups;
//! - [`stuck`]: which unfinished runs are past their task type's threshold;
//! - [`joins`]: how spans exported at different times (to any replica) join: which key a
//!   joined run takes, which error report meets its run; [`joins_memory`] keeps such rows in
//!   one process's memory, bounded.

pub mod batch;
pub mod figures;
pub mod groups;
pub mod joins;
pub mod joins_memory;
pub mod stuck;
