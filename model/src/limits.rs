//! Size caps. Oversized text is cut with a visible marker instead of failing the batch that
//! carries it: a 5 MB traceback must not cost the other runs of its batch.

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

/// Params larger than [`MAX_TEXT_BYTES`] once serialized become an object that says so and keeps
/// a readable preview, so the stored value is still valid JSON.
pub fn cap_params(params: Value) -> Value {
    let serialized = params.to_string();
    if serialized.len() <= MAX_TEXT_BYTES {
        return params;
    }
    let preview = cap_text(serialized.clone(), MAX_TEXT_BYTES / 2);
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
    fn large_params_become_a_marked_preview() {
        let params = json!({ "blob": "a".repeat(100_000) });
        let capped = cap_params(params);
        assert_eq!(capped[TRUNCATED_PARAMS_KEY], json!(true));
        assert_eq!(capped["original_bytes"], json!(100_011));
        assert!(capped.to_string().len() <= MAX_TEXT_BYTES);
        let small = json!({ "message_id": 500 });
        assert_eq!(cap_params(small.clone()), small);
    }
}
