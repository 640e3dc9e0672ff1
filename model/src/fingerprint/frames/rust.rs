//! Rust errors as the tasklens instrumentation reports them: an optional `std::backtrace`
//! (`   N: symbol` lines, each followed by `             at path:line:column`, innermost first),
//! then, as the collector appends it, `Caused by:` and the error's sources one per line.

use super::frame::{Frame, MAX_FRAMES, Summary, frame, strip_line_numbers};
use crate::fingerprint::normalize::normalize_message;

const CAUSED_BY: &str = "Caused by:";

pub(super) fn is_rust(text: &str) -> bool {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == CAUSED_BY {
            return true;
        }
        if symbol_line(line).is_some() && lines.next().is_some_and(|l| location_line(l).is_some()) {
            return true;
        }
    }
    false
}

pub(super) fn summarize(text: &str) -> Summary {
    let (backtrace, chain) = match text.lines().position(|line| line.trim() == CAUSED_BY) {
        Some(at) => {
            let lines: Vec<&str> = text.lines().collect();
            (lines[..at].to_vec(), lines[at + 1..].to_vec())
        }
        None => (text.lines().collect(), Vec::new()),
    };
    Summary {
        frames: frames(&backtrace),
        causes: chain
            .iter()
            .map(|line| normalize_message(line))
            .filter(|line| !line.is_empty())
            .collect(),
    }
}

fn frames(lines: &[&str]) -> Vec<Frame> {
    let mut frames = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let Some(symbol) = symbol_line(line) else {
            continue;
        };
        let location = lines.get(n + 1).and_then(|next| location_line(next));
        if let Some(path) = location
            && !is_library(symbol, path)
        {
            frames.push(frame(symbol, path));
            if frames.len() == MAX_FRAMES {
                break;
            }
        }
    }
    frames
}

/// The symbol of `   12: app::worker::score::{{closure}}`, without a legacy `::h…` hash.
fn symbol_line(line: &str) -> Option<&str> {
    let (number, symbol) = line.trim_start().split_once(": ")?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let symbol = symbol.trim();
    let symbol = match symbol.rsplit_once("::h") {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name
        }
        _ => symbol,
    };
    (!symbol.is_empty()).then_some(symbol)
}

/// The path of `             at ./src/main.rs:10:5`.
fn location_line(line: &str) -> Option<&str> {
    let location = line.trim_start().strip_prefix("at ")?;
    Some(strip_line_numbers(location.trim_end()))
}

/// Code that is not Rust (the C library's thread start), the standard library (from the
/// toolchain's sources or `/rustc/<hash>/`), crates from the registry or git, and the
/// instrumentation's own frames: it takes the backtrace where it sees the error, the same frames
/// for every failure.
fn is_library(symbol: &str, path: &str) -> bool {
    let path = path.replace('\\', "/");
    let library_path = !path.ends_with(".rs")
        || path.starts_with("/rustc/")
        || [
            "/rustlib/",
            "/library/std/",
            "/library/core/",
            "/library/alloc/",
        ]
        .iter()
        .any(|dir| path.contains(dir))
        || path.contains("/.cargo/registry/")
        || path.contains("/.cargo/git/");
    let symbol = symbol.trim_start_matches('<');
    let library_symbol = [
        "std::",
        "core::",
        "alloc::",
        "__rust",
        "rust_begin_unwind",
        "tasklens_instrumentation::",
    ]
    .iter()
    .any(|prefix| symbol.starts_with(prefix));
    library_path || library_symbol
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_lose_their_hash_and_locations_their_numbers() {
        assert_eq!(
            symbol_line("   4: app::score::h0123456789abcdef"),
            Some("app::score")
        );
        assert_eq!(
            symbol_line("  12: <F as core::future::future::Future>::poll"),
            Some("<F as core::future::future::Future>::poll")
        );
        assert_eq!(symbol_line("HTTP 429: Too Many Requests"), None);
        assert_eq!(
            location_line("             at ./src/worker.rs:40:25"),
            Some("./src/worker.rs")
        );
    }

    #[test]
    fn runtime_registry_and_instrumentation_frames_are_not_in_app() {
        let library = [
            ("std::rt::lang_start", "/rustc/abc/library/std/src/rt.rs"),
            (
                "tokio::runtime::park::CachedParkThread::block_on",
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.48.0/src/runtime/park.rs",
            ),
            (
                "tasklens_instrumentation::failure::FailureReport::described",
                "./instrumentation/src/failure.rs",
            ),
            (
                "<core::pin::Pin<P> as core::future::future::Future>::poll",
                "/root/.rustup/toolchains/stable/lib/rustlib/src/rust/library/core/src/future/future.rs",
            ),
        ];
        for (symbol, path) in library {
            assert!(is_library(symbol, path), "{symbol}");
        }
        assert!(is_library("start_thread", "./nptl/pthread_create.c"));
        assert!(!is_library(
            "worker::score::{{closure}}",
            "./examples/worker.rs"
        ));
    }
}
