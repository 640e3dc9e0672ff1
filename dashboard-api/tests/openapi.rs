//! The committed `openapi.json` (the page's TypeScript types are generated from it) is the one
//! the code generates.

use std::path::PathBuf;

#[test]
fn the_committed_openapi_document_is_the_generated_one() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let generated = tasklens_dashboard_api::openapi::document_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "dashboard-api/openapi.json differs from the document the code generates. Regenerate it \
         with `UPDATE_OPENAPI=1 cargo test -p tasklens-dashboard-api --test openapi`, then \
         regenerate the page's types from it."
    );
}

#[test]
fn the_document_is_openapi_3_1_with_every_endpoint() {
    let json: serde_json::Value =
        serde_json::from_str(&tasklens_dashboard_api::openapi::document_json()).expect("json");
    assert!(
        json["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    for path in [
        "/api/v1/monitoring/metrics",
        "/api/v1/monitoring/history",
        "/api/v1/monitoring/tasks/{id}",
        "/api/v1/monitoring/timeseries",
        "/api/v1/monitoring/task-names",
        "/api/v1/monitoring/ws",
    ] {
        assert!(json["paths"][path]["get"].is_object(), "{path} missing");
    }
    // Absent values are null, never omitted: every property is required.
    let item = &json["components"]["schemas"]["HistoryItem"];
    let required: Vec<&str> = item["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let properties = item["properties"].as_object().expect("properties");
    assert_eq!(required.len(), properties.len());
    assert_eq!(properties.len(), 18);
}

/// `params` is any JSON value or null: a schema with no type, so the page's generated type is
/// `unknown` (not `Record<string, never>`, which an object schema without properties gives).
#[test]
fn params_are_any_json_value() {
    let json: serde_json::Value =
        serde_json::from_str(&tasklens_dashboard_api::openapi::document_json()).expect("json");
    for schema in ["HistoryItem", "RunDetailResponse"] {
        let params = json["components"]["schemas"][schema]["properties"]["params"]
            .as_object()
            .unwrap_or_else(|| panic!("{schema}.params"));
        for constraint in [
            "type",
            "$ref",
            "properties",
            "oneOf",
            "anyOf",
            "allOf",
            "enum",
        ] {
            assert!(
                !params.contains_key(constraint),
                "{schema}.params must accept any JSON value, has {constraint}: {params:?}"
            );
        }
    }
}
