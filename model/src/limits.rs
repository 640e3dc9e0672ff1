//! Size caps. Oversized text is cut with a visible marker instead of failing the batch that
//! carries it: a 5 MB traceback must not cost the other runs of its batch.
//!
//! Messages keep their start (what went wrong is said first); tracebacks keep their end, where
//! Python puts the innermost frames and the final exception, and where the collector appends a
//! Rust error's cause chain, so the frames an error group is told by survive the cut.

use serde_json::{Value, json};

/// Cap for long text (error message, traceback) and for serialized params, in bytes.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Cap for short identifiers (task name, task id, queue, host...). They are indexed, and a
/// PostgreSQL btree entry cannot exceed about 2.7 KB.
pub const MAX_NAME_BYTES: usize = 1024;
/// The key that marks params replaced because they were too large.
pub const TRUNCATED_PARAMS_KEY: &str = "_tasklens_truncated";

/// Cuts `text` to at most `max` bytes (on a character boundary) and appends a marker saying how
/// long it was. Text within the cap is returned unchanged.
pub fn cap_text(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let marker = format!(" …[truncated by tasklens: {} bytes in all]", text.len());
    let mut keep = max.saturating_sub(marker.len());
    while keep > 0 && !text.is_char_boundary(keep) {
        keep -= 1;
    }
    let mut capped = String::with_capacity(keep + marker.len());
    capped.push_str(&text[..keep]);
    capped.push_str(&marker);
    capped
}

/// How far past the cut [`cap_text_end`] looks for a line start, so the kept text begins with a
/// whole line (a frame) rather than a fragment, without losing much when lines are long.
const LINE_START_SEARCH: usize = 1024;

/// Cuts `text` to at most `max` bytes by dropping its start, and puts a marker line saying how
/// long it was at the cut. The kept part starts on a character boundary, on a line start when one
/// is near. Text within the cap is returned unchanged.
pub fn cap_text_end(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let marker = format!("[truncated by tasklens: {} bytes in all]…\n", text.len());
    let keep = max.saturating_sub(marker.len());
    let mut start = text.len() - keep;
    let bytes = text.as_bytes();
    let window = &bytes[start..text.len().min(start + LINE_START_SEARCH)];
    if start > 0
        && bytes[start - 1] != b'\n'
        && let Some(newline) = window.iter().position(|b| *b == b'\n')
    {
        start += newline + 1;
    }
    while start < text.len() && !text.is_char_boundary(start) {
        start += 1;
    }
    let mut capped = String::with_capacity(marker.len() + text.len() - start);
    capped.push_str(&marker);
    capped.push_str(&text[start..]);
    capped
}

/// Params larger than [`MAX_TEXT_BYTES`] once serialized become an object that says so and keeps
/// a readable preview, so the stored value is still valid JSON.
/// What a NUL character becomes: PostgreSQL stores no NUL in text or JSON, and refusing the run
/// for a stray byte from user code would lose it.
pub const NUL_REPLACEMENT: char = '\u{fffd}';

/// `text` with every NUL replaced by [`NUL_REPLACEMENT`]; untouched (no copy) when it has none.
pub fn without_nul(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{fffd}")
    } else {
        text
    }
}

/// `params` with every NUL replaced in its strings and keys, at any depth.
pub fn params_without_nul(params: Value) -> Value {
    match params {
        Value::String(text) => Value::String(without_nul(text)),
        Value::Array(items) => Value::Array(items.into_iter().map(params_without_nul).collect()),
        Value::Object(map) if map.keys().any(|key| key.contains('\0')) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (without_nul(key), params_without_nul(value)))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, params_without_nul(value)))
                .collect(),
        ),
        other => other,
    }
}

pub fn cap_params(params: Value) -> Value {
    let serialized = params.to_string();
    if serialized.len() <= MAX_TEXT_BYTES {
        return params;
    }
    // The preview is JSON text, which escaping it as a string at most doubles (only its `"` and
    // `\` are escaped again): half the cap, less room for the object around it, keeps the
    // result within the cap, so that capping it again changes nothing.
    const OBJECT_ROOM: usize = 64;
    let preview = cap_text(serialized.clone(), MAX_TEXT_BYTES / 2 - OBJECT_ROOM);
    json!({
        TRUNCATED_PARAMS_KEY: true,
        "original_bytes": serialized.len(),
        "preview": preview,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_within_the_cap_is_unchanged() {
        assert_eq!(cap_text("short".into(), 10), "short");
        let exact = "x".repeat(10);
        assert_eq!(cap_text(exact.clone(), 10), exact);
    }

    #[test]
    fn long_text_is_cut_with_a_marker_and_fits_the_cap() {
        let long = "é".repeat(100_000); // two bytes per char: cuts must respect boundaries
        let capped = cap_text(long, MAX_TEXT_BYTES);
        assert!(capped.len() <= MAX_TEXT_BYTES);
        assert!(capped.ends_with("…[truncated by tasklens: 200000 bytes in all]"));
        assert!(capped.starts_with("éé"));
    }

    #[test]
    fn a_long_traceback_keeps_its_end_from_a_line_start() {
        let frames: String = (0..20_000)
            .map(|n| format!("  File \"app/tasks.py\", line {n}, in f\n"))
            .collect();
        let traceback = format!("Traceback (most recent call last):\n{frames}ValueError: boom\n");
        let total = traceback.len();
        let capped = cap_text_end(traceback.clone(), MAX_TEXT_BYTES);
        assert!(capped.len() <= MAX_TEXT_BYTES);
        let marker = format!("[truncated by tasklens: {total} bytes in all]…\n");
        assert!(capped.starts_with(&marker), "{}", &capped[..100]);
        assert!(capped.ends_with("line 19999, in f\nValueError: boom\n"));
        // the first kept line is whole, and everything kept is the original's end
        assert!(capped[marker.len()..].starts_with("  File "));
        assert!(traceback.ends_with(&capped[marker.len()..]));
    }

    #[test]
    fn cutting_the_start_respects_char_boundaries_and_is_idempotent() {
        let long = "é".repeat(100_000); // one line, two bytes per char
        let capped = cap_text_end(long, MAX_TEXT_BYTES);
        assert!(capped.len() <= MAX_TEXT_BYTES);
        assert!(capped.starts_with("[truncated by tasklens: 200000 bytes in all]…\né"));
        assert!(capped.ends_with("éé"));
        assert_eq!(cap_text_end(capped.clone(), MAX_TEXT_BYTES), capped);
        assert_eq!(cap_text_end("short".into(), 10), "short");
        let exact = "x".repeat(10);
        assert_eq!(cap_text_end(exact.clone(), 10), exact);
    }

    #[test]
    fn a_cut_next_to_a_line_start_keeps_that_line() {
        // the byte before the cut is a newline: nothing more is dropped
        let text = format!("{}\n{}", "a".repeat(100), "b".repeat(100));
        let marker_len = "[truncated by tasklens: 201 bytes in all]…\n".len();
        let capped = cap_text_end(text, marker_len + 100);
        assert!(capped.ends_with(&format!("…\n{}", "b".repeat(100))));
    }

    #[test]
    fn large_params_become_a_marked_preview() {
        let params = json!({ "blob": "a".repeat(100_000) });
        let capped = cap_params(params);
        assert_eq!(capped[TRUNCATED_PARAMS_KEY], json!(true));
        assert_eq!(capped["original_bytes"], json!(100_011));
        assert!(capped.to_string().len() <= MAX_TEXT_BYTES);
        let small = json!({ "message_id": 500 });
        assert_eq!(cap_params(small.clone()), small);
    }

    #[test]
    fn params_that_escape_heavily_stay_within_the_cap_and_are_capped_once() {
        // Found by the prepare() check of fuzz/otlp_traces (regressions/otlp_traces/
        // params-of-backslashes.pb): a preview of backslashes or quotes doubled when escaped
        // into the object, over the cap, and capping that again made a preview of the preview.
        for blob in ["\\".repeat(40_000), "\"".repeat(40_000)] {
            let capped = cap_params(json!(blob));
            assert!(capped.to_string().len() <= MAX_TEXT_BYTES);
            assert_eq!(cap_params(capped.clone()), capped);
        }
    }
}
