//! The optional bearer token.

use subtle::ConstantTimeEq;

/// Checks presented tokens against the configured one, in constant time.
#[derive(Clone, Default)]
pub struct TokenCheck {
    expected: Option<Vec<u8>>,
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCheck")
            .field("required", &self.expected.is_some())
            .finish()
    }
}

impl TokenCheck {
    /// A blank token counts as none.
    pub fn new(token: Option<&str>) -> Self {
        TokenCheck {
            expected: token
                .map(str::trim)
                .filter(|token| !token.is_empty())
                .map(|token| token.as_bytes().to_vec()),
        }
    }

    pub fn required(&self) -> bool {
        self.expected.is_some()
    }

    /// Whether the `Authorization` header value or the `token` query value grants access.
    pub fn allows(&self, authorization: Option<&[u8]>, query_token: Option<&str>) -> bool {
        let Some(expected) = &self.expected else {
            return true;
        };
        let from_header = authorization.and_then(|value| {
            value
                .strip_prefix(b"Bearer ")
                .or_else(|| value.strip_prefix(b"bearer "))
        });
        let presented = from_header.or(query_token.map(str::as_bytes));
        presented.is_some_and(|presented| bool::from(presented.ct_eq(expected)))
    }
}

#[cfg(test)]
mod tests {
    use super::TokenCheck;

    #[test]
    fn tokens() {
        let open = TokenCheck::new(None);
        assert!(open.allows(None, None));
        assert!(!open.required());
        let closed = TokenCheck::new(Some("s3cret"));
        type Case<'a> = (Option<&'a [u8]>, Option<&'a str>, bool);
        let cases: &[Case] = &[
            (Some(b"Bearer s3cret"), None, true),
            (Some(b"bearer s3cret"), None, true),
            (None, Some("s3cret"), true),
            (Some(b"Bearer s3cre"), None, false),
            (Some(b"Bearer s3cret2"), None, false),
            (Some(b"s3cret"), None, false),
            (Some(b"Basic s3cret"), None, false),
            (None, Some("nope"), false),
            (None, None, false),
        ];
        for (header, query, allowed) in cases {
            assert_eq!(
                closed.allows(*header, *query),
                *allowed,
                "{header:?} {query:?}"
            );
        }
        assert!(!TokenCheck::new(Some("  ")).required());
    }
}
