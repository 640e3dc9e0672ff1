//! OTLP/JSON decoding.
//!
//! opentelemetry-proto's serde types require the `values` field of `ArrayValue` and
//! `KeyValueList`, but proto3's JSON mapping lets an encoder omit an empty repeated field, and
//! some do: BullMQ's `bullmq.worker.stalled.jobs = []` arrives as `"arrayValue": {}`. Such a
//! request is valid and must not be refused. The fast path decodes the bytes as they are; only a
//! request that failed is parsed into a tree, given its missing empty lists and decoded again, so
//! the common case pays nothing.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// The `AnyValue` variants whose only field is a repeated `values`.
const LIST_VALUES: [&str; 2] = ["arrayValue", "kvlistValue"];

/// Decodes an OTLP/JSON request; the error names what was wrong, as serde_json reports it.
/// Public for the fuzz targets (`fuzz/`), which must decode exactly as `/v1/traces` does.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let first = match serde_json::from_slice(bytes) {
        Ok(decoded) => return Ok(decoded),
        Err(error) => error,
    };
    // Only the one gap above is mended: any other error is the sender's and is reported as is.
    if !first.to_string().contains("missing field `values`") {
        return Err(first);
    }
    let mut tree: Value = serde_json::from_slice(bytes)?;
    add_empty_lists(&mut tree);
    serde_json::from_value(tree).map_err(|_| first)
}

fn add_empty_lists(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in LIST_VALUES {
                if let Some(Value::Object(list)) = map.get_mut(key) {
                    list.entry("values")
                        .or_insert_with(|| Value::Array(Vec::new()));
                }
            }
            map.values_mut().for_each(add_empty_lists);
        }
        Value::Array(items) => items.iter_mut().for_each(add_empty_lists),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;

    use super::decode;

    fn request(attribute_value: &str) -> String {
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"process q","kind":5,"startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{{"key":"k","value":{attribute_value}}}]}}]}}]}}]}}"#
        )
    }

    fn first_value(request: &ExportTraceServiceRequest) -> Option<Any> {
        request.resource_spans[0].scope_spans[0].spans[0].attributes[0]
            .value
            .as_ref()
            .and_then(|v| v.value.clone())
    }

    #[test]
    fn an_empty_array_or_kvlist_without_values_is_an_empty_list() {
        for (sent, empty) in [
            (r#"{"arrayValue":{}}"#, true),
            (r#"{"kvlistValue":{}}"#, true),
            (r#"{"arrayValue":{"values":[{"arrayValue":{}}]}}"#, false),
        ] {
            let decoded: ExportTraceServiceRequest =
                decode(request(sent).as_bytes()).unwrap_or_else(|e| panic!("{sent}: {e}"));
            let len = match first_value(&decoded) {
                Some(Any::ArrayValue(a)) => a.values.len(),
                Some(Any::KvlistValue(l)) => l.values.len(),
                other => panic!("{sent}: decoded as {other:?}"),
            };
            assert_eq!(len == 0, empty, "{sent}");
        }
    }

    #[test]
    fn other_errors_are_reported_as_serde_json_found_them() {
        let error = decode::<ExportTraceServiceRequest>(br#"{"resourceSpans":[{"scopeSpans":7}]}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("invalid type: integer `7`"), "{error}");
        let error = decode::<ExportTraceServiceRequest>(br#"{"resourceSpans":["#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("EOF"), "{error}");
    }
}
