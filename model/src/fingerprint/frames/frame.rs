//! What the language parsers share: a frame, what a traceback yields, and how a location
//! becomes a frame.

use serde::{Deserialize, Serialize};

use crate::fingerprint::normalize::normalize_message;

/// Most in-app frames a fingerprint takes.
pub const MAX_FRAMES: usize = 3;

/// One in-app frame as the fingerprint sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Frame {
    /// The function (Python `in name`, Node `at name`, a Rust symbol without its hash).
    pub function: String,
    /// The file's last two path components, ids normalised: `app/tasks.py`.
    pub file: String,
}

/// What a fingerprint takes from a traceback.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Innermost first, at most [`MAX_FRAMES`].
    pub frames: Vec<Frame>,
    /// What the traceback says about the causes of the final error, outermost first: the types
    /// of a Python chain's earlier exceptions, the normalised lines of a Rust "Caused by:"
    /// chain. Two wrappings of different causes are different failures.
    pub causes: Vec<String>,
}

/// A frame of `function` in `path`.
pub(super) fn frame(function: &str, path: &str) -> Frame {
    Frame {
        function: function.trim().to_owned(),
        file: file_tail(path),
    }
}

/// The last two components of a path or file URL, without a query, ids normalised: the part of
/// a path that survives moving the code to another directory.
pub(super) fn file_tail(path: &str) -> String {
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let path = path.split_once('?').map_or(path, |(before, _)| before);
    let mut parts = path
        .rsplit(['/', '\\'])
        .filter(|part| !part.is_empty() && *part != ".");
    let name = parts.next().unwrap_or_default();
    let tail = match parts.next() {
        Some(dir) => format!("{dir}/{name}"),
        None => name.to_owned(),
    };
    normalize_message(&tail)
}

/// Cuts a trailing `:line` and `:line:column` off a location.
pub(super) fn strip_line_numbers(location: &str) -> &str {
    let mut location = location;
    for _ in 0..2 {
        match location.rsplit_once(':') {
            Some((before, digits))
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                location = before;
            }
            _ => break,
        }
    }
    location
}

/// Whether a line is the marker [`crate::limits::cap_text_end`] leaves at a cut.
pub(super) fn is_cut_marker(line: &str) -> bool {
    line.starts_with("[truncated by tasklens:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_tails_drop_the_directory_the_code_was_installed_in() {
        let cases = [
            ("/tmp/release-1-l946yn5i/app/tasks.py", "app/tasks.py"),
            ("/srv/releases/20240101/app/tasks.py", "app/tasks.py"),
            ("tasks.py", "tasks.py"),
            ("file:///app/src/jobs.mjs?v=3", "src/jobs.mjs"),
            ("C:\\work\\app\\tasks.py", "app/tasks.py"),
            ("./src/main.rs", "src/main.rs"),
            ("/srv/build-4f2a9c81d3/jobs.js", "build-<hex>/jobs.js"),
        ];
        for (path, tail) in cases {
            assert_eq!(file_tail(path), tail, "{path}");
        }
    }

    #[test]
    fn line_and_column_numbers_are_cut() {
        assert_eq!(strip_line_numbers("/app/a.js:12:5"), "/app/a.js");
        assert_eq!(strip_line_numbers("./src/main.rs:40"), "./src/main.rs");
        assert_eq!(
            strip_line_numbers("node:internal/url:806:29"),
            "node:internal/url"
        );
        assert_eq!(strip_line_numbers("native"), "native");
    }
}
