//! The optional bearer token.

use subtle::ConstantTimeEq;

/// Checks presented tokens against the configured one, in constant time so the token cannot be
/// guessed byte by byte.
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
    /// A blank token counts as none: the check is off.
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

    /// Whether this `Authorization` header value (`Bearer <token>`) grants access.
    pub fn allows_header(&self, authorization: Option<&[u8]>) -> bool {
        self.allows(authorization, None)
    }

    /// Whether the `Authorization` header value or, failing a bearer header, a token passed
    /// another way (a query value, where a browser cannot set headers) grants access.
    pub fn allows(&self, authorization: Option<&[u8]>, other_token: Option<&str>) -> bool {
        let Some(expected) = &self.expected else {
            return true;
        };
        let from_header = authorization.and_then(|value| {
            value
                .strip_prefix(b"Bearer ")
                .or_else(|| value.strip_prefix(b"bearer "))
        });
        let presented = from_header.or(other_token.map(str::as_bytes));
        presented.is_some_and(|presented| bool::from(presented.ct_eq(expected)))
    }
}

#[cfg(test)]
mod tests {
    use super::TokenCheck;

    #[test]
    fn header_tokens() {
        let open = TokenCheck::new(None);
        assert!(open.allows_header(None));
        let closed = TokenCheck::new(Some("s3cret"));
        assert!(closed.allows_header(Some(b"Bearer s3cret")));
        assert!(!closed.allows_header(Some(b"Bearer s3cre")));
        assert!(!closed.allows_header(Some(b"s3cret")));
        assert!(!closed.allows_header(None));
        assert!(
            TokenCheck::new(Some("  ")).allows_header(None),
            "a blank token disables the check"
        );
    }

    #[test]
    fn header_or_query_tokens() {
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
