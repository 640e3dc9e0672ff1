//! Python tracebacks (`traceback.format_exception`, as the OpenTelemetry SDK records them):
//! `  File "path", line N, in function` lines, innermost last, chained exceptions one after the
//! other with the final one last.

use super::frame::{Frame, MAX_FRAMES, Summary, frame, is_cut_marker};
use crate::fingerprint::normalize::normalize_type;

const SEPARATORS: [&str; 2] = [
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
];
const HEADER: &str = "Traceback (most recent call last):";

pub(super) fn is_python(text: &str) -> bool {
    text.lines().any(|line| frame_line(line).is_some())
}

pub(super) fn summarize(text: &str) -> Summary {
    let mut frames: Vec<Frame> = text
        .lines()
        .filter_map(frame_line)
        .filter(|(path, _)| !is_library(path))
        .map(|(path, function)| frame(function, path))
        .collect();
    frames.reverse();
    frames.truncate(MAX_FRAMES);
    Summary {
        frames,
        causes: cause_types(text),
    }
}

/// `(path, function)` of a frame line; exception groups indent theirs behind `|`.
fn frame_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_start_matches(|c: char| c.is_whitespace() || c == '|' || c == '+');
    let rest = line.strip_prefix("File \"")?;
    let (path, rest) = rest.split_once("\", line ")?;
    let (_, function) = rest.split_once(", in ")?;
    Some((path, function.trim_end()))
}

/// Installed libraries and the standard library, and pseudo-files such as `<frozen runpy>`.
fn is_library(path: &str) -> bool {
    let path = path.replace('\\', "/");
    if path.starts_with('<') || path.contains("/site-packages/") || path.contains("/dist-packages/")
    {
        return true;
    }
    let parts: Vec<&str> = path.split('/').collect();
    let versioned_lib = parts.windows(2).any(|pair| {
        matches!(pair[0], "lib" | "lib64")
            && pair[1].strip_prefix("python").is_some_and(|version| {
                !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            })
    });
    // Windows installs keep the standard library in `...\Lib\`.
    versioned_lib || parts.contains(&"Lib")
}

/// The types of the exceptions before the final one, in the order printed (outermost cause
/// first): the first line at the margin of each part before a separator.
fn cause_types(text: &str) -> Vec<String> {
    let mut causes = Vec::new();
    let mut first_of_part: Option<&str> = None;
    for line in text.lines() {
        if SEPARATORS.contains(&line.trim()) {
            if let Some(exception) = first_of_part.take() {
                causes.push(normalize_type(exception_type(exception)));
            }
            continue;
        }
        let at_margin = !line.starts_with(char::is_whitespace) && !line.trim().is_empty();
        if first_of_part.is_none() && at_margin && line != HEADER && !is_cut_marker(line) {
            first_of_part = Some(line);
        }
    }
    causes
}

/// `ValueError` of `ValueError: message`.
fn exception_type(line: &str) -> &str {
    line.split_once(':').map_or(line, |(name, _)| name).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_and_library_files_are_not_in_app() {
        let library = [
            "/tmp/fp-venv/lib/python3.11/site-packages/requests/api.py",
            "/root/.pyenv/versions/3.11.7/lib/python3.11/json/decoder.py",
            "/usr/lib/python3/dist-packages/apt/cache.py",
            "/usr/lib64/python3.12/asyncio/base_events.py",
            "<frozen runpy>",
            "C:\\Python312\\Lib\\json\\decoder.py",
            "C:\\venv\\Lib\\site-packages\\celery\\app\\trace.py",
        ];
        for path in library {
            assert!(is_library(path), "{path}");
        }
        let in_app = [
            "/work/main/collector/tests/fixtures/record.py",
            "/app/lib/parsing.py",
            "/srv/python-app/tasks.py",
        ];
        for path in in_app {
            assert!(!is_library(path), "{path}");
        }
    }

    #[test]
    fn frame_lines_are_read_with_or_without_exception_group_bars() {
        assert_eq!(
            frame_line(r#"  File "/app/tasks.py", line 12, in score"#),
            Some(("/app/tasks.py", "score"))
        );
        assert_eq!(
            frame_line(r#"    |   File "/app/tasks.py", line 3, in <module>"#),
            Some(("/app/tasks.py", "<module>"))
        );
        assert_eq!(frame_line("    raise ValueError(x)"), None);
    }
}
