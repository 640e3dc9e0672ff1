//! The normalisation table and its idempotence.

use crate::fingerprint::normalize_message;
use proptest::prelude::*;

#[test]
fn variable_parts_become_placeholders() {
    let cases = [
        (
            "Connection to 10.0.3.7:5432 refused",
            "Connection to <ip>:<num> refused",
        ),
        (
            "message -1 not found in the store",
            "message <num> not found in the store",
        ),
        (
            "message 123456 not found in the store",
            "message <num> not found in the store",
        ),
        ("took 3.25 s, limit 2.5", "took <num> s, limit <num>"),
        (
            "retry in 20s (5ms jitter)",
            "retry in <num>s (<num>ms jitter)",
        ),
        ("object at 0x7f3a2c1d9e80", "object at <hex>"),
        ("commit a3f9c2d18e not found", "commit <hex> not found"),
        // hex ids whose letters come last are ids, whatever their letters (not `<num>d`)
        (
            "in organization org-14820044109d on tokens",
            "in organization org-<hex> on tokens",
        ),
        ("org-578513545ffb", "org-<hex>"),
        ("timeout after 30000000ms", "timeout after <num>ms"),
        ("session Xk9fQ2mZ7w expired", "session <id> expired"),
        (
            "task 88bad065-713d-46e7-9db8-f3cc84c8f9d2 lost",
            "task <uuid> lost",
        ),
        (
            "task 7fb3fd78d22645b48824ab50423c2046 lost",
            "task <hex> lost",
        ),
        (
            "GET https://api.example.com/v1/users/42?expand=1 failed.",
            "GET <url> failed.",
        ),
        (
            "could not connect to postgres://app:[redacted]@db:5432/x",
            "could not connect to <url>",
        ),
        (
            "(see https://errors.pydantic.dev/2.5/v/missing)",
            "(see <url>)",
        ),
        ("no user ann.lee+tasks@example.co.uk", "no user <email>"),
        (
            "GET /users/42/orders/9001 failed",
            "GET /users/<num>/orders/<num> failed",
        ),
        ("job_123 and order-42", "job_<num> and order-<num>"),
        ("utf8 codec, user42, HTTP2", "utf8 codec, user42, HTTP2"),
        (
            "invalid literal for int() with base 10: 'ord-7f3a'",
            "invalid literal for int() with base <num>: 'ord-<hex>'",
        ),
        ("no such file: '/tmp/upload 7.csv'", "no such file: <str>"),
        ("value \"hello world\" rejected", "value <str> rejected"),
        ("unknown key `max retries`", "unknown key <str>"),
        // quoted names are code, not data
        (
            "Cannot read properties of undefined (reading 'text')",
            "Cannot read properties of undefined (reading 'text')",
        ),
        ("'user_id'", "'user_id'"),
        (
            "column \"message_id\" does not exist",
            "column \"message_id\" does not exist",
        ),
        // an exception's repr is a message of its own
        (
            "Retry in 0s: ConnectionError('embedding service unavailable')",
            "Retry in <num>s: ConnectionError('embedding service unavailable')",
        ),
        (
            "Caused by NewConnectionError(\"HTTPConnection(host='127.0.0.1', port=52815): Failed\")",
            "Caused by NewConnectionError(\"HTTPConnection(host=<str>, port=<num>): Failed\")",
        ),
        // V8 shortens long JSON input with an ellipsis
        (
            "Unexpected token '}', ...\"1, \"age\": }\" is not valid JSON",
            "Unexpected token <str>, <str>: }\" is not valid JSON",
        ),
        // apostrophes are not quotes
        (
            "can't reach the user's inbox",
            "can't reach the user's inbox",
        ),
        ("  Größe 12 überschritten ", "Größe <num> überschritten"),
        ("", ""),
    ];
    for (message, expected) in cases {
        assert_eq!(normalize_message(message), expected, "{message}");
    }
}

#[test]
fn an_unclosed_quote_is_kept_as_text() {
    assert_eq!(normalize_message("bad 'value 12"), "bad 'value <num>");
    assert_eq!(normalize_message("a 'b\nc' 7"), "a 'b\nc' <num>");
}

#[test]
fn many_quotes_stay_linear() {
    let unclosed = " 'x".repeat(100_000);
    assert_eq!(normalize_message(&unclosed), unclosed.trim());
    let empty = "'".repeat(200_000);
    assert_eq!(normalize_message(&empty), empty);
}

#[test]
fn nested_exception_reprs_stop_at_a_depth() {
    let nested = "AError('BError(\"CError('DError(\"EError('x y')\")')\")')";
    let normalized = normalize_message(nested);
    assert!(
        normalized.starts_with("AError('BError(\"CError('DError(\""),
        "{normalized}"
    );
    assert!(normalized.contains("<str>"), "{normalized}");
}

/// Pieces of real messages: every kind of variable part and the text around them.
const PIECES: &[&str] = &[
    "42",
    "-1",
    "3.14",
    "20s",
    "0x7f3a",
    "a3f9c2d18e",
    "Xk9fQ2mZ7w",
    "user42",
    "job_7",
    "10.0.0.1",
    "ann@example.com",
    "https://x.io/a?b=1",
    "postgres://u:[redacted]@db/x",
    "88bad065-713d-46e7-9db8-f3cc84c8f9d2",
    "'text'",
    "'a b'",
    "\"x 1\"",
    "`k`",
    "''",
    "ConnectionError('no 5')",
    "...",
    "…",
    "[redacted]",
    "café",
    "not",
    "found",
    "<num>",
    "don't",
    "'",
    "\"",
];
/// What separates the parts of a message. Parts glued to each other can change meaning
/// once normalised (`'x'-1` reads as a quote, then `-1` becomes `<num>`), which real messages
/// hardly do.
const GLUE: &[&str] = &[" ", ", ", ": ", " (", ") ", " = ", "\n", ". "];

proptest! {
    #[test]
    fn normalising_is_idempotent(
        parts in proptest::collection::vec((0..PIECES.len(), 0..GLUE.len()), 0..12)
    ) {
        let text: String = parts.iter().map(|(p, g)| format!("{}{}", PIECES[*p], GLUE[*g])).collect();
        let once = normalize_message(&text);
        prop_assert_eq!(normalize_message(&once), once.clone(), "from {:?}", text);
    }
}
