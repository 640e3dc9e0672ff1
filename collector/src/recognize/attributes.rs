//! Typed access to OTLP attributes. Spans are untrusted input: every accessor copes with a
//! missing key, a wrong type, a blank string or a huge value, and none of them panics.
//!
//! Two families of accessors:
//! - lenient ones (`str`, `id`) for fields that are optional or checked later: a value of the
//!   wrong type counts as missing;
//! - strict ones (`required_id`, `int`) for fields that decide a run's identity (task id,
//!   attempt): a present but unusable value is an error with a reason, because guessing would
//!   file the report under the wrong run.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use serde_json::{Map, Number, Value as Json};

/// Depth beyond which nested attribute values are not converted to JSON (a guard against
/// hostile nesting; OTLP decoders have their own limit, in-memory values do not).
const MAX_JSON_DEPTH: usize = 32;

/// The attributes of a span, event, log record or resource.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Attrs<'a>(pub &'a [KeyValue]);

impl<'a> Attrs<'a> {
    /// The value of `key` (the first one if a sender repeated the key), `None` when absent or
    /// empty.
    pub fn value(self, key: &str) -> Option<&'a Value> {
        self.0
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    /// The whole `AnyValue` of `key`.
    pub fn any(self, key: &str) -> Option<&'a AnyValue> {
        self.0
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .filter(|v| v.value.is_some())
    }

    pub fn contains(self, key: &str) -> bool {
        self.value(key).is_some()
    }

    /// Whether any key starts with `prefix`.
    pub fn has_prefix(self, prefix: &str) -> bool {
        self.0.iter().any(|kv| kv.key.starts_with(prefix))
    }

    /// A string value that is not blank; any other type counts as missing.
    pub fn str(self, key: &str) -> Option<&'a str> {
        match self.value(key) {
            Some(Value::StringValue(s)) if !s.trim().is_empty() => Some(s.as_str()),
            _ => None,
        }
    }

    /// The first of `keys` that has a non-blank string value.
    pub fn first_str(self, keys: &[&str]) -> Option<&'a str> {
        keys.iter().find_map(|key| self.str(key))
    }

    /// An identifier: a non-blank string, or an integer written in decimal (ids sent as numbers
    /// by dynamically typed senders). Any other type counts as missing.
    pub fn id(self, key: &str) -> Option<String> {
        match self.value(key) {
            Some(Value::StringValue(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(Value::IntValue(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The first of `keys` that holds an identifier.
    pub fn first_id(self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|key| self.id(key))
    }

    /// An identifier that must be there: a reason when it is missing, blank or of a type that
    /// cannot be an identifier.
    pub fn required_id(self, key: &str) -> Result<String, String> {
        match self.value(key) {
            None => Err(format!("{key} is missing")),
            Some(Value::StringValue(s)) if s.trim().is_empty() => Err(format!("{key} is empty")),
            Some(Value::StringValue(s)) => Ok(s.clone()),
            Some(Value::IntValue(n)) => Ok(n.to_string()),
            Some(other) => Err(format!("{key} is {}, expected a string", type_name(other))),
        }
    }

    /// An integer: an int, a double with no fractional part (JavaScript senders), or a decimal
    /// string (Python labels travel as strings). `Ok(None)` when absent or blank; a reason when
    /// present but not an integer.
    pub fn int(self, key: &str) -> Result<Option<i64>, String> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        match value {
            Value::IntValue(n) => Ok(Some(*n)),
            Value::DoubleValue(d) => double_to_int(*d)
                .map(Some)
                .ok_or_else(|| format!("{key} is {d:?}, expected an integer")),
            Value::StringValue(s) if s.trim().is_empty() => Ok(None),
            Value::StringValue(s) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("{key} is {:?}, expected an integer", preview(s.trim()))),
            other => Err(format!(
                "{key} is {}, expected an integer",
                type_name(other)
            )),
        }
    }

    /// The integer of the first of `keys` that is present (see [`Attrs::int`]).
    pub fn first_int(self, keys: &[&str]) -> Result<Option<i64>, String> {
        for key in keys {
            if let Some(n) = self.int(key)? {
                return Ok(Some(n));
            }
        }
        Ok(None)
    }
}

fn double_to_int(d: f64) -> Option<i64> {
    // i64::MAX is not representable as f64; the bound below is exclusive and safe.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (d.is_finite() && d.fract() == 0.0 && (-LIMIT..LIMIT).contains(&d)).then_some(d as i64)
}

/// An attempt number from an attribute value: it must fit the model's `i32` (a negative one is
/// left to the model's validation, which names the rule).
pub(crate) fn to_attempt(key: &str, n: i64) -> Result<i32, String> {
    i32::try_from(n).map_err(|_| format!("{key} is {n}, out of range for an attempt number"))
}

/// How an attribute type is named in reasons.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::StringValue(_) => "a string",
        Value::BoolValue(_) => "a bool",
        Value::IntValue(_) => "an int",
        Value::DoubleValue(_) => "a double",
        Value::ArrayValue(_) => "an array",
        Value::KvlistValue(_) => "a key-value list",
        Value::BytesValue(_) => "bytes",
        Value::StringValueStrindex(_) => "a string-table reference",
    }
}

/// The start of a (possibly huge) string, for reasons.
pub(crate) fn preview(s: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// An attribute value as JSON: maps for key-value lists, arrays for arrays, bytes as hex.
pub(crate) fn to_json(value: &AnyValue) -> Json {
    to_json_at(value, 0)
}

fn to_json_at(value: &AnyValue, depth: usize) -> Json {
    let Some(value) = value.value.as_ref() else {
        return Json::Null;
    };
    if depth >= MAX_JSON_DEPTH {
        return Json::String("[nested too deep]".to_owned());
    }
    match value {
        Value::StringValue(s) => Json::String(s.clone()),
        Value::BoolValue(b) => Json::Bool(*b),
        Value::IntValue(n) => Json::Number((*n).into()),
        Value::DoubleValue(d) => Number::from_f64(*d).map_or(Json::Null, Json::Number),
        Value::ArrayValue(array) => Json::Array(
            array
                .values
                .iter()
                .map(|v| to_json_at(v, depth + 1))
                .collect(),
        ),
        Value::KvlistValue(list) => {
            let mut map = Map::new();
            for kv in &list.values {
                let v = kv
                    .value
                    .as_ref()
                    .map_or(Json::Null, |v| to_json_at(v, depth + 1));
                map.insert(kv.key.clone(), v);
            }
            Json::Object(map)
        }
        Value::BytesValue(bytes) => Json::String(hex::encode(bytes)),
        Value::StringValueStrindex(_) => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recognize::testing::{attr, b, d, i, kv, s};
    use serde_json::json;

    #[test]
    fn integers_come_from_ints_integral_doubles_and_decimal_strings() {
        let attrs = [
            attr("int", i(3)),
            attr("double", d(4.0)),
            attr("string", s(" 5 ")),
            attr("blank", s("  ")),
            attr("fraction", d(1.5)),
            attr("word", s("three")),
            attr("bool", b(true)),
            attr("huge", d(1e300)),
        ];
        let attrs = Attrs(&attrs);
        let cases: [(&str, Result<Option<i64>, &str>); 9] = [
            ("int", Ok(Some(3))),
            ("double", Ok(Some(4))),
            ("string", Ok(Some(5))),
            ("blank", Ok(None)),
            ("missing", Ok(None)),
            ("fraction", Err("fraction is 1.5, expected an integer")),
            ("word", Err("word is \"three\", expected an integer")),
            ("bool", Err("bool is a bool, expected an integer")),
            ("huge", Err("huge is 1e300, expected an integer")),
        ];
        for (key, expected) in cases {
            assert_eq!(
                attrs.int(key),
                expected.map_err(str::to_owned),
                "attribute {key}"
            );
        }
    }

    #[test]
    fn ids_accept_strings_and_ints_only() {
        let attrs = [
            attr("string", s("abc")),
            attr("int", i(42)),
            attr("blank", s(" ")),
            attr("bool", b(false)),
        ];
        let attrs = Attrs(&attrs);
        assert_eq!(attrs.required_id("string").as_deref(), Ok("abc"));
        assert_eq!(attrs.required_id("int").as_deref(), Ok("42"));
        assert_eq!(attrs.required_id("blank"), Err("blank is empty".to_owned()));
        assert_eq!(
            attrs.required_id("bool"),
            Err("bool is a bool, expected a string".to_owned())
        );
        assert_eq!(
            attrs.required_id("missing"),
            Err("missing is missing".to_owned())
        );
        assert_eq!(
            attrs.first_id(&["bool", "blank", "int"]).as_deref(),
            Some("42")
        );
    }

    #[test]
    fn nested_values_become_json() {
        let value = kv(vec![
            attr("user", s("ann")),
            attr("ids", crate::recognize::testing::array(vec![i(1), d(2.5)])),
        ]);
        assert_eq!(to_json(&value), json!({"user": "ann", "ids": [1, 2.5]}));
    }

    #[test]
    fn deep_nesting_is_cut() {
        let mut value = s("leaf");
        for _ in 0..100 {
            value = crate::recognize::testing::array(vec![value]);
        }
        let json = to_json(&value);
        let mut depth = 0;
        let mut cursor = &json;
        while let Json::Array(items) = cursor {
            depth += 1;
            cursor = &items[0];
        }
        assert_eq!(depth, MAX_JSON_DEPTH);
        assert_eq!(cursor, &json!("[nested too deep]"));
    }

    #[test]
    fn previews_are_short() {
        assert_eq!(preview("short"), "short");
        assert_eq!(preview(&"é".repeat(100)).chars().count(), 65);
    }
}
