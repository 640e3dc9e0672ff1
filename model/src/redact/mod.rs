//! Redaction of parameters whose keys look secret. Applied by the instrumentation before data
//! leaves the process, and again by the collector whatever the sender did. Error messages and
//! tracebacks are redacted by the same patterns (`text.rs`).

mod text;

use serde_json::Value;

use crate::conventions::{DEFAULT_SECRET_KEYS, REDACTED};

/// Which keys count as secret: a key matches when it contains one of the patterns, ignoring
/// case, and with `-` and `_` alike (so `X-Api-Key` matches `api_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redactor {
    patterns: Vec<String>,
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor::new(DEFAULT_SECRET_KEYS.iter().copied())
    }
}

impl Redactor {
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        Redactor {
            patterns: patterns
                .into_iter()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.chars()
                        .map(|c| {
                            if c == '-' {
                                '_'
                            } else {
                                c.to_ascii_lowercase()
                            }
                        })
                        .collect()
                })
                .collect(),
        }
    }

    pub fn is_secret(&self, key: &str) -> bool {
        let key = key.as_bytes();
        self.patterns.iter().any(|pattern| {
            let pattern = pattern.as_bytes();
            pattern.is_empty()
                || key
                    .windows(pattern.len())
                    .any(|window| window.iter().map(|b| fold(*b)).eq(pattern.iter().copied()))
        })
    }

    /// Replaces the value of every secret key, at any depth.
    pub fn redact(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map.iter_mut() {
                    if self.is_secret(key) {
                        *inner = Value::String(REDACTED.to_owned());
                    } else {
                        self.redact(inner);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.redact(item)),
            _ => {}
        }
    }
}

/// A key byte as patterns are compared: lowercase, `-` as `_`.
fn fold(b: u8) -> u8 {
    match b.to_ascii_lowercase() {
        b'-' => b'_',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_are_redacted_at_any_depth() {
        let mut params = json!({
            "user": "ann",
            "Password": "hunter2",
            "nested": {"api_key": "k", "items": [{"ACCESS_TOKEN": "t", "id": 3}]},
            "authorization_header": "Bearer x",
        });
        Redactor::default().redact(&mut params);
        assert_eq!(
            params,
            json!({
                "user": "ann",
                "Password": "[redacted]",
                "nested": {"api_key": "[redacted]", "items": [{"ACCESS_TOKEN": "[redacted]", "id": 3}]},
                "authorization_header": "[redacted]",
            })
        );
    }

    #[test]
    fn patterns_are_configurable() {
        let redactor = Redactor::new(["ssn", " "]);
        assert!(redactor.is_secret("customer_SSN"));
        assert!(!redactor.is_secret("password"));
    }

    #[test]
    fn dashes_and_underscores_match_alike() {
        let redactor = Redactor::default();
        assert!(redactor.is_secret("X-Api-Key"));
        assert!(redactor.is_secret("PRIVATE-KEY"));
        assert!(Redactor::new(["api-key"]).is_secret("my_api_key"));
        assert!(!redactor.is_secret("apiary"));
    }
}
