//! The in-app frames of a traceback, per language.
//!
//! "In-app" means code of the application itself: a frame is skipped when its file belongs to the
//! language runtime or an installed library (Python site-packages, dist-packages and the
//! standard library; Node `node_modules`, `node:` internals and core modules; Rust std, core and
//! alloc, the cargo registry and git checkouts, and the tasklens instrumentation that took the
//! backtrace), or when it names no file at all, since then it cannot be told either way.
//!
//! Up to [`MAX_FRAMES`] in-app frames nearest the raise point are kept, innermost first. Python
//! lists the innermost frame last (so the last ones are taken, which also makes them the frames
//! of the final exception of a chain); Node and Rust list it first. Three frames tell two call
//! paths into one helper apart, while a refactoring further up the stack leaves the group alone.
//!
//! A frame is its function and its file's last two path components, without line or column, so a
//! deploy that moves lines or installs the code under another directory keeps its groups.

mod frame;
mod node;
mod python;
mod rust;

pub(crate) use frame::Summary;
pub use frame::{Frame, MAX_FRAMES};

/// Up to [`MAX_FRAMES`] in-app frames nearest the raise point, innermost first (see the module
/// documentation for what counts as in-app).
pub fn in_app_frames(traceback: &str) -> Vec<Frame> {
    summarize(traceback).frames
}

pub(crate) fn summarize(traceback: &str) -> Summary {
    if python::is_python(traceback) {
        python::summarize(traceback)
    } else if rust::is_rust(traceback) {
        rust::summarize(traceback)
    } else {
        node::summarize(traceback)
    }
}
