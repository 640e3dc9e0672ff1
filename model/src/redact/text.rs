//! Secrets in error messages and tracebacks. Only the secret itself is replaced, never the text
//! around it: a message redacted whole would put unrelated failures in one error group.
//!
//! Three kinds of secret are found, in one pass each over the text, without regular
//! expressions:
//! - the password of a URL's user info: `postgres://app:[redacted]@db/x`;
//! - the value of a key that matches the secret patterns (the same as for params, so
//!   `--secret-keys` applies): `token=…`, `password: …`, `"api_key": "…"`, `'session': '…'`; for
//!   `Authorization: Basic …` the scheme stays and the credential goes;
//! - a bearer token anywhere: `Bearer [redacted]`.

use std::borrow::Cow;

use super::Redactor;
use crate::conventions::REDACTED;

/// Longest key looked at before a `=` or `:`; a longer run of key characters is no key.
const MAX_KEY: usize = 128;
/// HTTP authorization schemes, whose credential follows after a space.
const AUTH_SCHEMES: &[&str] = &[
    "bearer",
    "basic",
    "digest",
    "token",
    "negotiate",
    "ntlm",
    "apikey",
];

impl Redactor {
    /// `text` with every secret replaced by `[redacted]`; borrowed, untouched, when it holds
    /// none. Already redacted text stays as it is.
    pub fn redact_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut secrets = Vec::new();
        url_passwords(text, &mut secrets);
        self.secret_values(text, &mut secrets);
        bearer_tokens(text, &mut secrets);
        if secrets.is_empty() {
            return Cow::Borrowed(text);
        }
        secrets.sort_unstable();
        // overlapping finds (a bearer token that is also a key's value) become one
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(secrets.len());
        for (start, end) in secrets {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (start, end) in merged {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }

    /// Values of secret-looking keys: `key=value` and `key: value`, keys and values quoted or
    /// not.
    fn secret_values(&self, text: &str, secrets: &mut Vec<(usize, usize)>) {
        let bytes = text.as_bytes();
        for (sep, &separator) in bytes.iter().enumerate() {
            if separator != b'=' && separator != b':' {
                continue;
            }
            if separator == b':' && bytes[sep + 1..].starts_with(b"//") {
                continue; // a URL's scheme
            }
            let Some((key_start, key_end)) = key_before(bytes, sep) else {
                continue;
            };
            let key = &text[key_start..key_end];
            // `TokenExpiredError: …` names an exception, not a key
            let type_name = ["Error", "Exception", "Warning"]
                .iter()
                .any(|suffix| key.ends_with(suffix));
            // a URL's user name belongs to `url_passwords`
            let user_name = text[..key_start].ends_with("//");
            if type_name || user_name || !self.is_secret(key) {
                continue;
            }
            let mut value = sep + 1;
            if separator == b':' {
                while matches!(bytes.get(value), Some(b' ' | b'\t')) {
                    value += 1;
                }
            }
            match bytes.get(value) {
                Some(&quote @ (b'"' | b'\'')) => {
                    let start = value + 1;
                    push(secrets, text, start, quoted_end(bytes, start, quote));
                }
                Some(_) => {
                    let end = unquoted_end(bytes, value);
                    let scheme = AUTH_SCHEMES
                        .iter()
                        .any(|s| text[value..end].eq_ignore_ascii_case(s));
                    if scheme && bytes.get(end) == Some(&b' ') {
                        let credential = end + 1;
                        push(secrets, text, credential, unquoted_end(bytes, credential));
                    } else {
                        push(secrets, text, value, end);
                    }
                }
                None => {}
            }
        }
    }
}

/// The key just before a separator at `sep`, quoted or not: `(start, end)`.
fn key_before(bytes: &[u8], sep: usize) -> Option<(usize, usize)> {
    let mut end = sep;
    let quote = match sep.checked_sub(1).map(|at| bytes[at]) {
        Some(q @ (b'"' | b'\'')) => {
            end -= 1;
            Some(q)
        }
        _ => None,
    };
    let floor = end.saturating_sub(MAX_KEY);
    let start = bytes[floor..end]
        .iter()
        .rposition(|b| !is_key_byte(*b))
        .map_or(floor, |p| floor + p + 1);
    let too_long = start == floor && floor > 0 && is_key_byte(bytes[floor - 1]);
    let quote_opens = quote.is_none_or(|q| start > 0 && bytes[start - 1] == q);
    (start < end && !too_long && quote_opens).then_some((start, end))
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// The end of an unquoted value: the first space or delimiter.
fn unquoted_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|b| {
            b.is_ascii_whitespace()
                || matches!(
                    b,
                    b'&' | b',' | b';' | b')' | b']' | b'}' | b'>' | b'"' | b'\''
                )
        })
        .map_or(bytes.len(), |p| from + p)
}

/// The closing quote of a value starting at `from`, past backslash escapes; the line's end when
/// the quote is not closed, so an unclosed secret is still hidden.
fn quoted_end(bytes: &[u8], from: usize, quote: u8) -> usize {
    let mut at = from;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'\n' => return at,
            b if b == quote => return at,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// Passwords in URL user info (`scheme://user:password@host`). The user name stays, so a
/// failure still tells which account was refused.
fn url_passwords(text: &str, secrets: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let start = from + found + 3;
        from = start;
        let end = bytes[start..]
            .iter()
            .position(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'`' | b'<' | b'>'))
            .map_or(bytes.len(), |p| start + p);
        let authority = &bytes[start..end];
        let Some(first_at) = authority.iter().position(|b| *b == b'@') else {
            continue;
        };
        let Some(colon) = authority[..first_at].iter().position(|b| *b == b':') else {
            continue;
        };
        if authority[..colon]
            .iter()
            .any(|b| matches!(b, b'/' | b'?' | b'#'))
        {
            continue; // the `@` is in the path or query, after a host
        }
        let after_colon = &authority[colon + 1..first_at];
        let port = after_colon
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if port > 0 && matches!(after_colon.get(port), Some(b'/' | b'?' | b'#')) {
            continue; // `host:8080/path?to=ann@example.com`
        }
        // A password may hold `@` (and `/`): it ends at the last `@` before the host's end.
        let host_end = authority[first_at..]
            .iter()
            .position(|b| matches!(b, b'/' | b'?' | b'#'))
            .map_or(authority.len(), |p| first_at + p);
        let last_at = authority[..host_end]
            .iter()
            .rposition(|b| *b == b'@')
            .unwrap_or(first_at);
        push(secrets, text, start + colon + 1, start + last_at);
    }
}

/// `Bearer <token>` anywhere, whatever key (if any) it follows.
fn bearer_tokens(text: &str, secrets: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let token_byte = |b: &u8| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
    };
    for at in 0..bytes.len() {
        let word = at + 6;
        let is_bearer = bytes
            .get(at..word)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"bearer"))
            && (at == 0 || !bytes[at - 1].is_ascii_alphanumeric());
        if !is_bearer || !matches!(bytes.get(word), Some(b' ' | b'\t')) {
            continue;
        }
        let start = word
            + bytes[word..]
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
        let end = start + bytes[start..].iter().take_while(|b| token_byte(b)).count();
        push(secrets, text, start, end);
    }
}

/// Records a secret, unless it is empty or already redacted.
fn push(secrets: &mut Vec<(usize, usize)>, text: &str, start: usize, end: usize) {
    if start < end && !text[start..].starts_with(REDACTED) {
        secrets.push((start, end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::fingerprint;

    #[test]
    fn only_the_secret_is_replaced() {
        let cases = [
            (
                "could not connect to postgres://app:s3cret@db/x",
                "could not connect to postgres://app:[redacted]@db/x",
            ),
            (
                "redis://:hunter2@cache:6379/0 refused",
                "redis://:[redacted]@cache:6379/0 refused",
            ),
            (
                "GET https://ann:p@ss@host/path failed",
                "GET https://ann:[redacted]@host/path failed",
            ),
            (
                "GET https://ann:ab/cd@host/x failed",
                "GET https://ann:[redacted]@host/x failed",
            ),
            (
                "DATABASE_URL=postgres://app:s3cret@db/x",
                "DATABASE_URL=postgres://app:[redacted]@db/x",
            ),
            (
                "GET /v1/items?token=abc123&page=2 returned 401",
                "GET /v1/items?token=[redacted]&page=2 returned 401",
            ),
            (
                "login failed: password=hunter2 user=ann",
                "login failed: password=[redacted] user=ann",
            ),
            (
                "password: hunter2 rejected",
                "password: [redacted] rejected",
            ),
            (
                r#"body {"password": "hunter 2", "user": "ann"}"#,
                r#"body {"password": "[redacted]", "user": "ann"}"#,
            ),
            (
                "kwargs {'api_key': 'k-123', 'id': 3}",
                "kwargs {'api_key': '[redacted]', 'id': 3}",
            ),
            (
                r#"{"token":"a\"b", "n": 1}"#,
                r#"{"token":"[redacted]", "n": 1}"#,
            ),
            (
                "Authorization: Bearer eyJhbGciOi.J9x-y_z rejected",
                "Authorization: Bearer [redacted] rejected",
            ),
            (
                "authorization: Basic dXNlcjpwYXNz",
                "authorization: Basic [redacted]",
            ),
            (
                "headers={'Authorization': 'Bearer abc'}",
                "headers={'Authorization': '[redacted]'}",
            ),
            (
                "sent with bearer abc.def-ghi~=",
                "sent with bearer [redacted]",
            ),
            (
                "X-Api-Key: k_live_123 rejected",
                "X-Api-Key: [redacted] rejected",
            ),
            (
                "Set-Cookie: sessionid=9f8e7d; path=/",
                "Set-Cookie: [redacted]; path=/",
            ),
            ("sessionid=9f8e7d; path=/", "sessionid=[redacted]; path=/"),
            (
                "private_key=\"-----BEGIN KEY\n",
                "private_key=\"[redacted]\n",
            ),
        ];
        let redactor = Redactor::default();
        for (text, expected) in cases {
            assert_eq!(redactor.redact_text(text), expected, "{text}");
            assert_eq!(
                redactor.redact_text(expected),
                expected,
                "again: {expected}"
            );
        }
    }

    #[test]
    fn text_without_a_secret_is_returned_borrowed_and_unchanged() {
        let redactor = Redactor::default();
        let texts = [
            "message -1 not found in the store",
            "the password is wrong",
            "GET https://host:8080/a?mail=ann@example.com failed",
            "could not connect to postgres://postgres@127.0.0.1/x",
            "connect to http://proxy:3128 failed",
            "TokenExpiredError: token expired at 12:00",
            "Traceback (most recent call last):\n  File \"/app/tasks.py\", line 3, in f\nValueError: x",
            "password=[redacted] and Bearer [redacted]",
            "token=",
            "",
        ];
        for text in texts {
            assert!(
                matches!(redactor.redact_text(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
    }

    #[test]
    fn the_configured_patterns_decide_which_keys_are_secret() {
        let redactor = Redactor::new(["ssn"]);
        assert_eq!(
            redactor.redact_text("customer_ssn=123-45-6789 password=x"),
            "customer_ssn=[redacted] password=x"
        );
        // URL passwords and bearer tokens are secrets whatever the patterns
        assert_eq!(
            redactor.redact_text("amqp://u:p@mq Bearer t"),
            "amqp://u:[redacted]@mq Bearer [redacted]"
        );
    }

    #[test]
    fn redacted_messages_stay_apart_and_secrets_do_not_split_a_group() {
        let redactor = Redactor::default();
        let group = |message: &str| {
            let message = redactor.redact_text(message);
            fingerprint(
                &crate::TaskType::new("sync_orders", None, None),
                Some("OperationalError"),
                Some(&message),
                None,
            )
        };
        let a = "connect postgres://app:s3cret@db/orders failed: timeout token=abc123";
        let b = "connect postgres://app:0ther@db/users failed: refused token=abc123";
        assert_ne!(redactor.redact_text(a), redactor.redact_text(b));
        assert_ne!(group(a), group(b));
        let rotated = "connect postgres://app:n3w-s3cret@db/orders failed: timeout token=zzz999";
        assert_eq!(group(a), group(rotated));
    }

    #[test]
    fn long_text_is_scanned_in_one_pass() {
        let text = "key=value a:b ".repeat(10_000) + "token=abc";
        let redacted = Redactor::default().redact_text(&text);
        assert!(redacted.ends_with("token=[redacted]"));
        assert_eq!(redacted.len(), text.len() - 3 + REDACTED.len());
        let run_of_key_bytes = "a".repeat(100_000) + "=1";
        assert!(matches!(
            Redactor::default().redact_text(&run_of_key_bytes),
            Cow::Borrowed(_)
        ));
    }
}
