//! Error groups: every failed run belongs to the group of its [`Fingerprint`].
//!
//! The fingerprint is a hash of, in this order:
//! - the task type: task name (trimmed), service and deployment environment ([`TaskType`]), so
//!   one failure of a `send_email` task in two services is two groups;
//! - the error type, trimmed, without a Python-style module path (`json.decoder.JSONDecodeError`
//!   → `JSONDecodeError`): the OpenTelemetry Python SDK qualifies the type on span events but not
//!   on log records, and one failure is often reported both ways. Paths with `::` (Rust, Ruby)
//!   are kept whole;
//! - the message, normalised ([`normalize_message`]);
//! - the causes the traceback names (the types of a Python chain's earlier exceptions, the
//!   normalised lines of a Rust `Caused by:` chain);
//! - up to [`MAX_FRAMES`] in-app frames nearest the raise point, function and file without line
//!   numbers ([`in_app_frames`]). With no in-app frame the rest alone decides: error type and
//!   normalised message.
//!
//! So two different exceptions of one task never share a group (their type, message, causes or
//! frames differ), one exception with different ids or values does, and a deploy that only
//! moves lines or directories keeps its groups. Secrets are redacted before this runs
//! ([`crate::Redactor::redact_text`]), each replaced by the same marker, so a secret never splits
//! a group and a redaction never merges two.
//!
//! The hash is SHA-256 over the length-prefixed fields (see [`fingerprint`]), its first 128
//! bits in lowercase hex: defined by the bytes alone, the same on every platform and Rust
//! version. [`FINGERPRINT_VERSION`] is stored with it; an improved algorithm gets a new version,
//! so groups computed by the old one are never silently merged or split.

mod frames;
mod normalize;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use frames::{Frame, MAX_FRAMES, in_app_frames};
pub use normalize::normalize_message;

use normalize::normalize_type;

use crate::task_type::TaskType;

/// The version of the algorithm below. Change it with any change that moves a failure to
/// another group (normalisation, frame rules, hashed fields). 2: hex ids that end in letters
/// (`org-14820044109d`) are ids, no longer numbers with a unit. 3: the service and the
/// environment of the task type are hashed after the task name.
pub const FINGERPRINT_VERSION: u16 = 3;

/// The group of a failure: which algorithm computed it, and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Fingerprint {
    pub version: u16,
    /// 32 lowercase hex digits.
    pub hash: String,
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}:{}", self.version, self.hash)
    }
}

/// The fingerprint of a failed run (see the module documentation for what it depends on).
///
/// The hashed bytes: `tasklens-fingerprint`, the version (u16, big-endian), then each field as
/// its length (u32, big-endian) and its UTF-8 bytes: task name, service and environment (empty
/// when unknown), error type (empty when unknown), normalised message (empty when unknown), the number of causes (u32) and each
/// cause, the number of frames (u32) and each frame's function and file.
pub fn fingerprint(
    task_type: &TaskType,
    error_type: Option<&str>,
    message: Option<&str>,
    traceback: Option<&str>,
) -> Fingerprint {
    let summary = traceback.map(frames::summarize).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(b"tasklens-fingerprint");
    hasher.update(FINGERPRINT_VERSION.to_be_bytes());
    field(&mut hasher, task_type.task_name.trim());
    field(&mut hasher, &task_type.service);
    field(&mut hasher, &task_type.environment);
    field(
        &mut hasher,
        &error_type.map(normalize_type).unwrap_or_default(),
    );
    field(
        &mut hasher,
        &message.map(normalize_message).unwrap_or_default(),
    );
    count(&mut hasher, summary.causes.len());
    for cause in &summary.causes {
        field(&mut hasher, cause);
    }
    count(&mut hasher, summary.frames.len());
    for frame in &summary.frames {
        field(&mut hasher, &frame.function);
        field(&mut hasher, &frame.file);
    }
    let digest = hasher.finalize();
    Fingerprint {
        version: FINGERPRINT_VERSION,
        hash: digest[..16].iter().map(|b| format!("{b:02x}")).collect(),
    }
}

fn count(hasher: &mut Sha256, n: usize) {
    // Counts and lengths are bounded by the text caps, far below u32::MAX.
    hasher.update(u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
}

fn field(hasher: &mut Sha256, text: &str) {
    count(hasher, text.len());
    hasher.update(text.as_bytes());
}

#[cfg(test)]
mod tests;
