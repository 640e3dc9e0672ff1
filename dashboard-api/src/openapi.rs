//! The OpenAPI 3.1 document, generated from the handlers and response types. A copy is
//! committed as `dashboard-api/openapi.json` (the page's TypeScript types come from it); a test
//! keeps the two identical.

use axum::extract::State;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{RefOr, Required, Schema};

use crate::state::AppState;
use crate::{error, live, routes, wire};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tasklens dashboard API",
        description = "Task runs, figures and a live feed of status changes. Every time is an \
                       RFC 3339 UTC string; every absent value is null, never omitted. A query \
                       parameter sent empty (`task_name=`) counts as absent; unknown ones are \
                       ignored. A bad parameter is answered 400 with an `ErrorBody` naming it."
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
        wire::DateOrTime,
        live::ServerMessage,
        live::ClientMessage,
        live::StatusChange,
        live::NewErrorGroupData,
        live::ResyncData,
        live::ResyncReason,
        live::SubscriptionFilter,
        live::ErrorData,
    )),
    modifiers(&BearerToken, &EveryFieldPresent, &EmptyMeansAbsent),
    tags((name = "monitoring", description = "The monitoring page's data"))
)]
struct ApiDoc;

/// The security schemes the paths refer to: `bearer` (`Authorization: Bearer`), and on the
/// WebSocket `query_token` (`?token=`, for browsers, which cannot set headers there).
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "query_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("token"))),
        );
    }
}

/// Every operation of the document.
fn operations(openapi: &mut utoipa::openapi::OpenApi) -> impl Iterator<Item = &mut Operation> {
    openapi.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
    })
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

/// An optional query parameter sent empty counts as absent (`QueryParams::parse`): the document
/// says so with `allowEmptyValue`, so `time_window=` is not a schema-violating request. utoipa
/// has no field for it (it is deprecated in OpenAPI 3.1, but still defined); parameters
/// serialize their extensions flat, so it goes there.
struct EmptyMeansAbsent;

impl Modify for EmptyMeansAbsent {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for operation in operations(openapi) {
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.parameter_in == ParameterIn::Query
                    && parameter.required == Required::False
                {
                    parameter
                        .extensions
                        .get_or_insert_with(Default::default)
                        .insert("allowEmptyValue".to_owned(), true.into());
                }
            }
        }
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document an API with a token configured serves. The committed document describes the
/// default, no token, so every path's security lets the token be absent (`{}`); here it may not.
pub fn document_with_token() -> utoipa::openapi::OpenApi {
    let mut openapi = document();
    let none = SecurityRequirement::default();
    for operation in operations(&mut openapi) {
        if let Some(requirements) = operation.security.as_mut() {
            requirements.retain(|requirement| *requirement != none);
        }
    }
    openapi
}

fn pretty(openapi: &utoipa::openapi::OpenApi) -> String {
    let mut json = openapi.to_pretty_json().unwrap_or_else(|_| "{}".to_owned());
    json.push('\n');
    json
}

/// The document as pretty JSON with a final newline (the committed file's form).
pub fn document_json() -> String {
    pretty(&document())
}

/// `GET /api/openapi.json`: the document of this API's configuration.
pub async fn serve(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    let json = if state.token.required() {
        pretty(&document_with_token())
    } else {
        document_json()
    };
    ([(http::header::CONTENT_TYPE, "application/json")], json)
}
