//! Node `Error.stack`: the message, then `    at function (location)` or `    at location`
//! lines, innermost first.

use super::frame::{MAX_FRAMES, Summary, frame, strip_line_numbers};

pub(super) fn summarize(text: &str) -> Summary {
    let frames = text
        .lines()
        .filter_map(frame_line)
        .filter(|(_, location)| !is_library(location))
        .map(|(function, location)| frame(function, location))
        .take(MAX_FRAMES)
        .collect();
    Summary {
        frames,
        causes: Vec::new(),
    }
}

/// `(function, location without line and column)`; the function is empty for anonymous ones.
fn frame_line(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim().strip_prefix("at ")?;
    let (function, location) = match rest.strip_suffix(')').and_then(|r| r.rsplit_once(" (")) {
        Some((function, location)) => (function, location),
        None => ("", rest),
    };
    let function = function.strip_prefix("async ").unwrap_or(function);
    // `Worker.process [as processFn]`: the alias is how it was called, not what it is.
    let function = function
        .split_once(" [as ")
        .map_or(function, |(name, _)| name);
    Some((function, strip_line_numbers(location)))
}

/// Node's own modules (`node:net`, `node:internal/...`, and before Node 16 bare `events.js` or
/// `internal/...`), installed packages, and frames without a file (`native`, `<anonymous>`,
/// `eval`, `index 0` of `Promise.all`).
fn is_library(location: &str) -> bool {
    location.starts_with("node:")
        || location.starts_with("internal/")
        || location.contains("node_modules")
        || location.contains("eval at ")
        || location.starts_with('<')
        || !location.contains(['/', '\\'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lines_of_every_shape() {
        let cases = [
            (
                "    at messageText (/app/jobs.cjs:5:27)",
                Some(("messageText", "/app/jobs.cjs")),
            ),
            (
                "    at Worker.process [as processFn] (/app/jobs.cjs:29:34)",
                Some(("Worker.process", "/app/jobs.cjs")),
            ),
            (
                "    at async Promise.all (index 0)",
                Some(("Promise.all", "index 0")),
            ),
            ("    at /app/src/x.js:3:5", Some(("", "/app/src/x.js"))),
            (
                "    at new URL (node:internal/url:806:29)",
                Some(("new URL", "node:internal/url")),
            ),
            ("TypeError: Invalid URL", None),
        ];
        for (line, expected) in cases {
            assert_eq!(frame_line(line), expected, "{line}");
        }
    }

    #[test]
    fn runtime_and_package_locations_are_not_in_app() {
        for location in [
            "node:internal/process/task_queues",
            "node:net",
            "internal/process/task_queues.js",
            "events.js",
            "/app/node_modules/bullmq/dist/cjs/classes/worker.js",
            "native",
            "<anonymous>",
            "index 0",
        ] {
            assert!(is_library(location), "{location}");
        }
        assert!(!is_library("/app/src/jobs.js"));
        assert!(!is_library("file:///app/src/jobs.mjs"));
    }
}
