//! The optional bearer token on ingest.

use subtle::ConstantTimeEq;

/// Checks `Authorization: Bearer <token>` values.
#[derive(Clone, Default)]
pub struct TokenCheck {
    expected: Option<Vec<u8>>,
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCheck")
            .field("enabled", &self.expected.is_some())
            .finish()
    }
}

impl TokenCheck {
    pub fn new(token: Option<&str>) -> Self {
        TokenCheck {
            expected: token
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| t.as_bytes().to_vec()),
        }
    }

    /// Whether a request with this `Authorization` header value may ingest. Compared in
    /// constant time so the token cannot be guessed byte by byte.
    pub fn allows(&self, authorization: Option<&[u8]>) -> bool {
        let Some(expected) = &self.expected else {
            return true;
        };
        let Some(value) = authorization else {
            return false;
        };
        let presented = value
            .strip_prefix(b"Bearer ")
            .or_else(|| value.strip_prefix(b"bearer "))
            .unwrap_or(b"");
        presented.ct_eq(expected).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let open = TokenCheck::new(None);
        assert!(open.allows(None));
        let closed = TokenCheck::new(Some("s3cret"));
        assert!(closed.allows(Some(b"Bearer s3cret")));
        assert!(!closed.allows(Some(b"Bearer s3cre")));
        assert!(!closed.allows(Some(b"s3cret")));
        assert!(!closed.allows(None));
        assert!(
            TokenCheck::new(Some("  ")).allows(None),
            "a blank token disables the check"
        );
    }
}
