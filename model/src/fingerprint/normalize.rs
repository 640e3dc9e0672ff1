//! Error messages with their variable parts replaced by placeholders, so that one failure with
//! different ids or values reads the same ("Connection to <ip>:<num> refused").
//!
//! One left-to-right pass over the text; at each position the first rule that matches wins:
//!
//! | what                                                  | becomes   |
//! |-------------------------------------------------------|-----------|
//! | a URL, `scheme://` up to a space, quote or bracket    | `<url>`   |
//! | a UUID, `8-4-4-4-12` hex digits                       | `<uuid>`  |
//! | an e-mail address                                     | `<email>` |
//! | an IPv4 address                                       | `<ip>`    |
//! | a quoted value (`'…'`, `"…"`, `` `…` ``, one line)    | `<str>`   |
//! | a number (`42`, `-1`, `3.14`; `20s` → `<num>s`)       | `<num>`   |
//! | `0x…`, or 8+ hex digits with a digit (`a3f9c2d18e`)   | `<hex>`   |
//! | another word mixing digits and letters (`Xk9fQ2mZ`)   | `<id>`    |
//!
//! 8+ hex digits with a digit and a letter are `<hex>` even when the letters come last
//! (`org-14820044109d`): such a word is an id, not a number with a unit.
//!
//! A word is a run of ASCII letters and digits, so ids inside paths and names are found too:
//! `/users/42/orders` → `/users/<num>/orders`, `job_123` → `job_<num>`. Words that start with a
//! letter and end in digits (`utf8`, `user42`, `http2`) are names and kept.
//!
//! Two kinds of quoted text are not values: a quoted name (`'text'`, `"user_id"`: a property,
//! key or field, which names code rather than data) is kept, its digits normalised; and the
//! argument of an exception's repr (`ConnectionError('service unavailable')`, as Celery's retry
//! reasons and Python's chained errors print it) is the inner error's message, so it is
//! normalised in turn. An ellipsis next to a quoted value (V8 shortens long JSON input that way)
//! is part of the value.
//!
//! Not recognised: IPv6 addresses, dates as such (their digits become `<num>`), and free-form
//! unquoted values (`Invalid Version: v10.beta`): text cannot tell those from the message.

/// Deepest nesting of exception reprs normalised in turn; deeper ones become `<str>`.
const MAX_DEPTH: usize = 4;
/// A quoted name longer than this is treated as a value.
const MAX_NAME: usize = 64;

/// The message with its variable parts replaced by placeholders, trimmed. Idempotent: a
/// normalised message normalises to itself.
pub fn normalize_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    normalize_into(message.trim(), &mut out, 0);
    out
}

fn normalize_into(text: &str, out: &mut String, depth: usize) {
    let bytes = text.as_bytes();
    let mut scanner = Scanner {
        text,
        bytes,
        unclosed: [None; 3],
    };
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        let at_boundary = i == 0 || !is_alnum(bytes[i - 1]);
        let quote = quote_kind(bytes[i]).filter(|_| at_boundary);
        let matched = if let Some(kind) = quote {
            scanner.quoted(i, kind, out, &mut copied, depth)
        } else if at_boundary {
            scanner.try_rules(i, out, &mut copied)
        } else {
            None
        };
        match matched {
            Some(end) => i = end,
            None if is_alnum(bytes[i]) => {
                // inside a word that did not start here: skip to its end
                let end = word_end(bytes, i);
                if at_boundary {
                    out.push_str(&text[copied..i]);
                    push_word(&text[i..end], out);
                    copied = end;
                }
                i = end;
            }
            None => i += 1,
        }
    }
    out.push_str(&text[copied..]);
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    /// Per quote kind, the stretch of a line already searched in vain for a closing quote: an
    /// opening quote of that kind inside it has none either, so the pass stays linear.
    unclosed: [Option<(usize, usize)>; 3],
}

impl Scanner<'_> {
    /// Tries every rule that starts at a boundary `i`; on a match, flushes the copied text,
    /// writes the replacement and returns where the match ends.
    fn try_rules(&self, i: usize, out: &mut String, copied: &mut usize) -> Option<usize> {
        let (text, bytes) = (self.text, self.bytes);
        let placeholder = |end: usize, name: &str, out: &mut String, copied: &mut usize| {
            out.push_str(&text[*copied..i]);
            out.push_str(name);
            *copied = end;
            Some(end)
        };
        if let Some(end) = url_end(bytes, i) {
            return placeholder(end, "<url>", out, copied);
        }
        if let Some(end) = uuid_end(bytes, i) {
            return placeholder(end, "<uuid>", out, copied);
        }
        if let Some(end) = email_end(bytes, i) {
            return placeholder(end, "<email>", out, copied);
        }
        if let Some(end) = ipv4_end(bytes, i) {
            return placeholder(end, "<ip>", out, copied);
        }
        // A minus sign that starts a number is part of it ("message -1 not found").
        if bytes[i] == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let end = word_end(bytes, i + 1);
            out.push_str(&self.text[*copied..i]);
            push_word(&self.text[i + 1..end], out);
            *copied = end;
            return Some(end);
        }
        None
    }

    fn quoted(
        &mut self,
        open: usize,
        kind: usize,
        out: &mut String,
        copied: &mut usize,
        depth: usize,
    ) -> Option<usize> {
        let bytes = self.bytes;
        let quote = bytes[open];
        if let Some((from, to)) = self.unclosed[kind]
            && from < open
            && open < to
        {
            return None;
        }
        let mut close = None;
        let mut k = open + 1;
        while k < bytes.len() && bytes[k] != b'\n' {
            // a quote glued to a word on its right is an apostrophe (`'don't stop'`)
            if bytes[k] == quote && bytes.get(k + 1).is_none_or(|next| !is_alnum(*next)) {
                close = Some(k);
                break;
            }
            k += 1;
        }
        let Some(close) = close else {
            self.unclosed[kind] = Some((open, k));
            return None;
        };
        if close == open + 1 {
            // an empty string is no value
            out.push_str(&self.text[*copied..=close]);
            *copied = close + 1;
            return Some(close + 1);
        }
        let inner = &self.text[open + 1..close];
        out.push_str(&self.text[*copied..open]);
        let repr = depth < MAX_DEPTH && follows_exception_name(&bytes[..open]);
        if is_name(inner) || repr {
            out.push_str(&self.text[open..=open]);
            normalize_into(inner, out, depth + 1);
            out.push_str(&self.text[close..=close]);
        } else {
            for ellipsis in ["...", "…"] {
                if let Some(kept) = out.strip_suffix(ellipsis) {
                    out.truncate(kept.len());
                }
            }
            out.push_str("<str>");
            let mut end = close + 1;
            for ellipsis in ["...", "…"] {
                if self.text[end..].starts_with(ellipsis) {
                    end += ellipsis.len();
                }
            }
            *copied = end;
            return Some(end);
        }
        *copied = close + 1;
        Some(close + 1)
    }
}

/// Writes one word (a run of ASCII letters and digits) as the table says.
fn push_word(word: &str, out: &mut String) {
    let bytes = word.as_bytes();
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    if digits == 0 || !word.is_ascii() {
        out.push_str(word);
        return;
    }
    if bytes.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        // an integer, or a decimal as `word_end` takes it
        out.push_str("<num>");
        return;
    }
    let all_hex = bytes.iter().all(u8::is_ascii_hexdigit);
    if bytes[0].is_ascii_digit() {
        let lead = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        let rest = &word[lead..];
        if bytes.len() >= 8 && all_hex {
            // an id whose hex letters happen to come last (`org-14820044109d`), not a unit
            out.push_str("<hex>");
        } else if rest.bytes().all(|b| b.is_ascii_alphabetic()) {
            // a number with its unit: 20s, 5ms, 100MB
            out.push_str("<num>");
            out.push_str(rest);
        } else if all_hex || is_0x(word) {
            out.push_str("<hex>");
        } else {
            out.push_str("<id>");
        }
        return;
    }
    let interleaved = bytes
        .windows(2)
        .any(|w| w[0].is_ascii_digit() && w[1].is_ascii_alphabetic());
    if bytes.len() >= 8 && all_hex {
        out.push_str("<hex>");
    } else if bytes.len() >= 8 && digits >= 2 && interleaved {
        out.push_str("<id>");
    } else {
        out.push_str(word);
    }
}

fn is_0x(word: &str) -> bool {
    word.len() > 2
        && (word.starts_with("0x") || word.starts_with("0X"))
        && word[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Letters, digits and anything outside ASCII (so words in other scripts stay whole).
fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// The end of the word starting at `i`, and of a decimal part directly after it (`3.14`).
fn word_end(bytes: &[u8], i: usize) -> usize {
    let run = |from: usize| {
        bytes[from..]
            .iter()
            .position(|b| !is_alnum(*b))
            .map_or(bytes.len(), |p| from + p)
    };
    let end = run(i);
    let all_digits = bytes[i..end].iter().all(u8::is_ascii_digit);
    if all_digits
        && bytes.get(end) == Some(&b'.')
        && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
    {
        let fraction_end = run(end + 1);
        if bytes[end + 1..fraction_end].iter().all(u8::is_ascii_digit) {
            return fraction_end;
        }
    }
    end
}

fn quote_kind(b: u8) -> Option<usize> {
    match b {
        b'\'' => Some(0),
        b'"' => Some(1),
        b'`' => Some(2),
        _ => None,
    }
}

/// A name: letters, digits, `_ . : -`, starting with a letter or `_`, short.
fn is_name(inner: &str) -> bool {
    let bytes = inner.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME
        && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// Whether the text before a quote ends with `SomeError(`: an exception's repr.
fn follows_exception_name(before: &[u8]) -> bool {
    let Some(before) = before.strip_suffix(b"(") else {
        return false;
    };
    let start = before
        .iter()
        .rposition(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .map_or(0, |p| p + 1);
    let name = &before[start..];
    name.first().is_some_and(u8::is_ascii_uppercase)
        && [&b"Error"[..], b"Exception", b"Warning"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

fn url_end(bytes: &[u8], i: usize) -> Option<usize> {
    if !bytes[i].is_ascii_alphabetic() {
        return None;
    }
    let scheme = bytes[i..]
        .iter()
        .take(32)
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')))?;
    if !bytes[i + scheme..].starts_with(b"://") {
        return None;
    }
    // Not `]`: IPv6 hosts and redacted passwords (`app:[redacted]@db`) have brackets.
    let stops =
        |b: &u8| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'`' | b'<' | b'>' | b')');
    let mut end = bytes[i..]
        .iter()
        .position(stops)
        .map_or(bytes.len(), |p| i + p);
    let bracketed = bytes[i..end].contains(&b'[');
    while end > i
        && (matches!(bytes[end - 1], b'.' | b',' | b';' | b':' | b'!' | b'?')
            || (bytes[end - 1] == b']' && !bracketed))
    {
        end -= 1;
    }
    Some(end)
}

fn uuid_end(bytes: &[u8], i: usize) -> Option<usize> {
    let candidate = bytes.get(i..i + 36)?;
    let shaped = candidate.iter().enumerate().all(|(n, b)| match n {
        8 | 13 | 18 | 23 => *b == b'-',
        _ => b.is_ascii_hexdigit(),
    });
    let ends = bytes
        .get(i + 36)
        .is_none_or(|b| !is_alnum(*b) && *b != b'-');
    (shaped && ends).then_some(i + 36)
}

fn email_end(bytes: &[u8], i: usize) -> Option<usize> {
    let local_char =
        |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-');
    let local = bytes[i..]
        .iter()
        .take(65)
        .take_while(|b| local_char(b))
        .count();
    if local == 0 || local > 64 || bytes.get(i + local) != Some(&b'@') {
        return None;
    }
    let domain_start = i + local + 1;
    let domain_char = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-');
    let mut end = domain_start
        + bytes[domain_start..]
            .iter()
            .take(256)
            .take_while(|b| domain_char(b))
            .count();
    while end > domain_start && matches!(bytes[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let domain = &bytes[domain_start..end];
    let tld_start = domain.iter().rposition(|b| *b == b'.')? + 1;
    let tld = &domain[tld_start..];
    (tld_start > 1 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic)).then_some(end)
}

fn ipv4_end(bytes: &[u8], i: usize) -> Option<usize> {
    let mut at = i;
    for part in 0..4 {
        let digits = bytes[at..]
            .iter()
            .take(4)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || digits > 3 {
            return None;
        }
        at += digits;
        if part < 3 {
            if bytes.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
    }
    let continues = bytes.get(at).is_some_and(|b| is_alnum(*b))
        || (bytes.get(at) == Some(&b'.') && bytes.get(at + 1).is_some_and(u8::is_ascii_digit));
    (!continues).then_some(at)
}

/// The error type as grouped: trimmed, a dotted module path dropped (see the module
/// documentation of `fingerprint` for why).
pub(crate) fn normalize_type(error_type: &str) -> String {
    let error_type = error_type.trim();
    let plain = !error_type.contains("::") && !error_type.contains(char::is_whitespace);
    let short = match error_type.rsplit_once('.') {
        Some((_, name)) if plain && !name.is_empty() => name,
        _ => error_type,
    };
    short.to_owned()
}
