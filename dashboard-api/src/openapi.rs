//! The OpenAPI 3.1 document, generated from the handlers and response types. A copy is
//! committed as `dashboard-api/openapi.json` (the page's TypeScript types come from it); a test
//! keeps the two identical.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{RefOr, Schema};

use crate::{error, live, routes, wire};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tasklens dashboard API",
        description = "Task runs, figures and a live feed of status changes. Every time is an \
                       RFC 3339 UTC string; every absent value is null, never omitted."
    ),
    paths(
        routes::metrics::metrics,
        routes::history::history,
        routes::tasks::task,
        routes::timeseries::timeseries,
        routes::task_names::task_names,
        routes::stuck::stuck,
        routes::errors::errors,
        routes::errors::error_group,
        routes::errors::set_state,
        live::socket::websocket,
    ),
    components(schemas(
        error::ErrorBody,
        wire::RunStatus,
        wire::RunSource,
        live::ServerMessage,
        live::ClientMessage,
        live::StatusChange,
        live::ResyncData,
        live::ResyncReason,
        live::SubscriptionFilter,
        live::ErrorData,
    )),
    modifiers(&BearerToken, &EveryFieldPresent),
    tags((name = "monitoring", description = "The monitoring page's data"))
)]
struct ApiDoc;

/// The `bearer` security scheme the paths refer to.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Absent values are sent as null, never omitted: every property of every schema is required
/// (nullable ones say so in their type), so generated client types have no optional fields.
struct EveryFieldPresent;

fn require_every_property(schema: &mut Schema) {
    match schema {
        Schema::Object(object) => {
            object.required = object.properties.keys().cloned().collect();
            for property in object.properties.values_mut() {
                if let RefOr::T(inner) = property {
                    require_every_property(inner);
                }
            }
        }
        Schema::OneOf(one_of) => {
            for item in &mut one_of.items {
                if let RefOr::T(inner) = item {
                    require_every_property(inner);
                }
            }
        }
        Schema::AllOf(all_of) => {
            for item in &mut all_of.items {
                if let RefOr::T(inner) = item {
                    require_every_property(inner);
                }
            }
        }
        _ => {}
    }
}

impl Modify for EveryFieldPresent {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            for schema in components.schemas.values_mut() {
                if let RefOr::T(schema) = schema {
                    require_every_property(schema);
                }
            }
        }
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as pretty JSON with a final newline (the committed file's form).
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned());
    json.push('\n');
    json
}

/// `GET /api/openapi.json`.
pub async fn serve() -> impl axum::response::IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        document_json(),
    )
}
