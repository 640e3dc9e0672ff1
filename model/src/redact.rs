//! Redaction of parameters whose keys look secret. Applied by the instrumentation before data
//! leaves the process, and again by the collector whatever the sender did.

use serde_json::Value;

use crate::conventions::{DEFAULT_SECRET_KEYS, REDACTED};

/// Which keys count as secret: a key matches when it contains one of the patterns, ignoring
/// case.
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
                .map(str::to_ascii_lowercase)
                .collect(),
        }
    }

    pub fn is_secret(&self, key: &str) -> bool {
        let key = key.to_ascii_lowercase();
        self.patterns.iter().any(|p| key.contains(p.as_str()))
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
}
