//! The API's OpenAPI 3.1 document, built from the code: the routes, methods and access of the
//! table of functions ([`crate::wiring::FUNCTIONS`]), the request bodies' schemas derived from
//! the types the endpoints parse, the answers' from [`schemas`], and what each operation says
//! below ([`OPERATIONS`]). `openapi.json` beside this crate's manifest is the committed copy:
//! what `GET /openapi.json` serves and the docs page reads; a test fails when the two differ
//! (`UPDATE_OPENAPI=1 cargo test -p functions openapi` rewrites it).

pub mod docs;
pub mod schemas;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::auth::guard::{Access, Policy};
use crate::wiring::{FUNCTIONS, Function};
use crate::{auth, jobs, rbac, users};
use schemas as s;

/// The committed document.
pub const COMMITTED: &str = include_str!("../../openapi.json");

/// Where the committed document lives, for the test that rewrites it.
pub const COMMITTED_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

/// The schemas an operation refers to, collected as the document is built.
pub type Schemas = BTreeMap<String, RefOr<Schema>>;

/// Adds `T` (and what it refers to) to the components; its name.
type SchemaOf = fn(&mut Schemas) -> String;

fn schema<T: ToSchema>(schemas: &mut Schemas) -> String {
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    schemas.extend(nested);
    let name = T::name().into_owned();
    schemas.insert(name.clone(), T::schema());
    name
}

/// What the document says of one function's route beyond what the table declares.
#[derive(Debug)]
pub struct Operation {
    pub function: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub request: Option<SchemaOf>,
    /// The success status, its schema (none for an empty body) and what it means.
    pub success: (u16, Option<SchemaOf>, &'static str),
    /// Error statuses besides the ones every route of its kind can answer.
    pub errors: &'static [u16],
    /// Query parameters: name, meaning and the values the handler accepts.
    pub query: &'static [(&'static str, &'static str, Values)],
}

/// The values a query parameter accepts, so a client (or a fuzzer) reading the document knows
/// what the handler refuses with 400 before sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Any text (an opaque cursor).
    Text,
    /// A page size: a whole number from 1 to the listing's maximum.
    Limit(usize),
    UserStatus,
    JobStatus,
    /// A job type's name: lowercase letters and `_`.
    JobType,
    /// A search text (see [`shared::users::search::SearchText`]).
    Search,
}

impl Values {
    fn schema(self) -> Value {
        use shared::users::search::{MAX_QUERY, MIN_QUERY};
        match self {
            Values::Text => json!({"type": "string"}),
            Values::Limit(max) => json!({"type": "integer", "minimum": 1, "maximum": max}),
            Values::UserStatus => json!({"type": "string", "enum": ["active", "disabled"]}),
            Values::JobStatus => {
                let names: Vec<&str> = shared::jobs::JobStatus::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect();
                json!({"type": "string", "enum": names})
            }
            Values::JobType => json!({"type": "string", "pattern": "^[a-z_]{1,64}$"}),
            Values::Search => {
                json!({"type": "string", "minLength": MIN_QUERY, "maxLength": MAX_QUERY})
            }
        }
    }
}

impl Operation {
    const fn new(
        function: &'static str,
        tag: &'static str,
        summary: &'static str,
        request: Option<SchemaOf>,
        success: (u16, Option<SchemaOf>, &'static str),
    ) -> Self {
        Self {
            function,
            tag,
            summary,
            request,
            success,
            errors: &[],
            query: &[],
        }
    }

    const fn errors(self, errors: &'static [u16]) -> Self {
        Self { errors, ..self }
    }

    const fn query(self, query: &'static [(&'static str, &'static str, Values)]) -> Self {
        Self { query, ..self }
    }
}

/// Every route's operation, in the table's order.
pub const OPERATIONS: &[Operation] = &[
    Operation::new(
        "health",
        "system",
        "Whether the function is up, and its version",
        None,
        (200, Some(schema::<s::Health>), "Up."),
    ),
    Operation::new(
        "jwks",
        "system",
        "The public keys access tokens are verified with",
        None,
        (
            200,
            Some(schema::<s::Jwks>),
            "The current and next keys (and a retired one while its tokens live).",
        ),
    ),
    Operation::new(
        "openapi",
        "system",
        "This document",
        None,
        (200, None, "The OpenAPI 3.1 document."),
    ),
    Operation::new(
        "docs",
        "system",
        "The API's documentation page",
        None,
        (200, None, "An HTML page listing every operation."),
    ),
    Operation::new(
        "register",
        "auth",
        "Register an account; the verification mail goes out",
        Some(schema::<auth::register::Body>),
        (201, Some(schema::<s::UserBody>), "Registered, unverified."),
    )
    .errors(&[409, 429]),
    Operation::new(
        "verify_email",
        "auth",
        "Verify an address with the token from its mail",
        Some(schema::<auth::verify_email::Body>),
        (200, Some(schema::<s::UserBody>), "Verified."),
    ),
    Operation::new(
        "resend_verification",
        "auth",
        "Send the verification mail again",
        Some(schema::<auth::resend_verification::Body>),
        (
            202,
            None,
            "Accepted, whether or not the address has an account.",
        ),
    )
    .errors(&[429]),
    Operation::new(
        "login",
        "auth",
        "Log in: a session and a token pair",
        Some(schema::<auth::login::Body>),
        (200, Some(schema::<s::TokenPair>), "Logged in."),
    )
    .errors(&[401, 403, 429]),
    Operation::new(
        "refresh",
        "auth",
        "Exchange a refresh token for a new pair (rotation)",
        Some(schema::<auth::refresh::Body>),
        (
            200,
            Some(schema::<s::TokenPair>),
            "A new pair; the presented token is spent.",
        ),
    )
    .errors(&[401]),
    Operation::new(
        "logout",
        "auth",
        "End this session",
        Some(schema::<auth::logout::Body>),
        (204, None, "Ended."),
    ),
    Operation::new(
        "logout_all",
        "auth",
        "End every session of the caller",
        None,
        (204, None, "Ended; access tokens stop working at once."),
    ),
    Operation::new(
        "reset_password",
        "auth",
        "Mail a password reset link",
        Some(schema::<auth::reset_password::Body>),
        (
            202,
            None,
            "Accepted, whether or not the address has an account.",
        ),
    )
    .errors(&[429]),
    Operation::new(
        "confirm_reset",
        "auth",
        "Set a new password with the token from the reset mail",
        Some(schema::<auth::confirm_reset::Body>),
        (204, None, "Changed; every session ended."),
    ),
    Operation::new(
        "change_password",
        "auth",
        "Change the caller's password",
        Some(schema::<auth::change_password::Body>),
        (204, None, "Changed; the other sessions ended."),
    )
    .errors(&[429]),
    Operation::new(
        "profile",
        "auth",
        "The caller, their roles and permissions",
        None,
        (200, Some(schema::<s::Profile>), "The caller."),
    ),
    Operation::new(
        "permissions",
        "auth",
        "The caller's permissions and the roles granting them",
        None,
        (200, Some(schema::<s::GrantList>), "Every grant."),
    ),
    Operation::new(
        "sessions",
        "auth",
        "The caller's live sessions",
        None,
        (200, Some(schema::<s::SessionList>), "Every live session."),
    ),
    Operation::new(
        "delete_session",
        "auth",
        "End one of the caller's sessions",
        None,
        (204, None, "Ended."),
    ),
    Operation::new(
        "create_user",
        "users",
        "Create a user",
        Some(schema::<users::create_user::Body>),
        (201, Some(schema::<s::UserBody>), "Created."),
    )
    .errors(&[409]),
    Operation::new(
        "list_users",
        "users",
        "List users, newest first",
        None,
        (200, Some(schema::<s::UserPage>), "A page of users."),
    )
    .query(&[
        (
            "limit",
            "Items per page, 1 to 100 (default 20).",
            Values::Limit(shared::users::listing::MAX_LIMIT),
        ),
        (
            "cursor",
            "The `next_cursor` of the previous page.",
            Values::Text,
        ),
        (
            "status",
            "Only users of this status: `active` or `disabled`.",
            Values::UserStatus,
        ),
        (
            "q",
            "Only users whose email or name matches (2 to 64 characters, a word of 2 or more).",
            Values::Search,
        ),
    ]),
    Operation::new(
        "get_user",
        "users",
        "Read a user (`ETag` is its version)",
        None,
        (200, Some(schema::<s::UserBody>), "The user."),
    ),
    Operation::new(
        "update_user",
        "users",
        "Change a user's name, phone or (with users:update) status",
        Some(schema::<users::update_user::Body>),
        (200, Some(schema::<s::UserBody>), "Changed."),
    )
    .errors(&[412]),
    Operation::new(
        "delete_user",
        "users",
        "Delete a user and everything keyed to them",
        None,
        (204, None, "Deleted; their sessions ended."),
    ),
    Operation::new(
        "upload_avatar",
        "users",
        "A signed form to upload an avatar with",
        Some(schema::<users::upload_avatar::Body>),
        (
            200,
            Some(schema::<s::AvatarForm>),
            "POST the image there, as multipart, within the form's lifetime.",
        ),
    ),
    Operation::new(
        "user_roles",
        "users",
        "The roles a user holds",
        None,
        (200, Some(schema::<s::AssignmentList>), "Every role held."),
    ),
    Operation::new(
        "assign_role",
        "users",
        "Give a user a role, optionally until a date",
        Some(schema::<users::assign_role::Body>),
        (201, Some(schema::<s::AssignmentBody>), "Assigned."),
    )
    .errors(&[409]),
    Operation::new(
        "revoke_role",
        "users",
        "Take a role from a user",
        None,
        (204, None, "Revoked."),
    )
    .errors(&[409]),
    Operation::new(
        "list_roles",
        "rbac",
        "List the roles",
        None,
        (200, Some(schema::<s::RoleList>), "Every role."),
    ),
    Operation::new(
        "create_role",
        "rbac",
        "Create a role",
        Some(schema::<rbac::create_role::Body>),
        (201, Some(schema::<s::RoleBody>), "Created."),
    )
    .errors(&[409]),
    Operation::new(
        "get_role",
        "rbac",
        "Read a role",
        None,
        (200, Some(schema::<s::RoleBody>), "The role."),
    ),
    Operation::new(
        "update_role",
        "rbac",
        "Rename or describe a role",
        Some(schema::<s::UpdateRoleRequest>),
        (200, Some(schema::<s::RoleBody>), "Changed."),
    )
    .errors(&[409]),
    Operation::new(
        "delete_role",
        "rbac",
        "Delete a role (not a seeded one)",
        None,
        (204, None, "Deleted."),
    )
    .errors(&[409]),
    Operation::new(
        "set_role_permissions",
        "rbac",
        "Replace the permissions a role grants",
        Some(schema::<rbac::set_role_permissions::Body>),
        (200, Some(schema::<s::RoleBody>), "Changed."),
    )
    .errors(&[409]),
    Operation::new(
        "list_permissions",
        "rbac",
        "List the permissions",
        None,
        (200, Some(schema::<s::PermissionList>), "Every permission."),
    ),
    Operation::new(
        "create_permission",
        "rbac",
        "Create a permission",
        Some(schema::<s::CreatePermissionRequest>),
        (201, Some(schema::<s::PermissionBody>), "Created."),
    )
    .errors(&[409]),
    Operation::new(
        "get_permission",
        "rbac",
        "Read a permission",
        None,
        (200, Some(schema::<s::PermissionBody>), "The permission."),
    ),
    Operation::new(
        "update_permission",
        "rbac",
        "Rename or describe a permission",
        Some(schema::<s::UpdatePermissionRequest>),
        (200, Some(schema::<s::PermissionBody>), "Changed."),
    )
    .errors(&[409]),
    Operation::new(
        "delete_permission",
        "rbac",
        "Delete a permission (not a seeded one)",
        None,
        (204, None, "Deleted."),
    )
    .errors(&[409]),
    Operation::new(
        "create_job",
        "jobs",
        "Queue a job of a creatable type",
        Some(schema::<jobs::create_job::Body>),
        (202, Some(schema::<s::JobBody>), "Queued."),
    ),
    Operation::new(
        "list_jobs",
        "jobs",
        "List jobs, most recently changed first",
        None,
        (200, Some(schema::<s::JobPage>), "A page of jobs."),
    )
    .query(&[
        (
            "limit",
            "Items per page, 1 to 100 (default 20).",
            Values::Limit(shared::jobs::listing::MAX_LIMIT),
        ),
        (
            "cursor",
            "The `next_cursor` of the previous page.",
            Values::Text,
        ),
        ("status", "Only jobs of this status.", Values::JobStatus),
        ("type", "Only jobs of this type.", Values::JobType),
    ]),
    Operation::new(
        "get_job",
        "jobs",
        "Read a job",
        None,
        (200, Some(schema::<s::JobBody>), "The job."),
    ),
    Operation::new(
        "cancel_job",
        "jobs",
        "Cancel a queued job",
        None,
        (200, Some(schema::<s::JobBody>), "Cancelled."),
    )
    .errors(&[409]),
    Operation::new(
        "retry_job",
        "jobs",
        "Queue a failed or dead job again",
        None,
        (200, Some(schema::<s::JobBody>), "Queued again."),
    )
    .errors(&[409]),
];

/// The document, as the committed file holds it.
pub fn document() -> Value {
    let mut schemas = Schemas::new();
    let problem = schema::<s::Problem>(&mut schemas);
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    let mut tags = Vec::new();
    for function in FUNCTIONS {
        let Some(route) = function.route() else {
            continue;
        };
        let Some(operation) = OPERATIONS.iter().find(|o| o.function == function.name) else {
            continue;
        };
        if !tags.contains(&operation.tag) {
            tags.push(operation.tag);
        }
        let item = paths.entry(route.path).or_default();
        let body = operation_of(function, operation, route.access, &problem, &mut schemas);
        item.insert(route.method.to_lowercase(), body);
    }
    let schemas: Map<String, Value> = schemas
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or(Value::Null)))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Accounts, users, RBAC and jobs API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every operation is its own Lambda function behind one HTTP API (and a route of the local system). Errors are `application/problem+json` with a stable `code`. Changing operations take an `Idempotency-Key`.",
        },
        "tags": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from login or refresh (15 minutes).",
                },
            },
        },
    })
}

/// The committed form of the document: pretty, with a final newline.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

fn operation_of(
    function: &Function,
    operation: &Operation,
    access: Access,
    problem: &str,
    schemas: &mut Schemas,
) -> Value {
    let route = function.route();
    let path = route.map_or("", |r| r.path);
    let mut parameters: Vec<Value> = path
        .split('/')
        .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}})
        })
        .collect();
    parameters.extend(operation.query.iter().map(|(name, description, values)| {
        json!({"name": name, "in": "query", "required": false, "description": description, "schema": values.schema()})
    }));
    if function.is_idempotent() {
        parameters.push(json!({
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": "Makes a retry replay the first answer instead of acting twice (kept 24 h), scoped to the caller. The same key with a different request gets 422 `idempotency_key_reused`; while the first request with it is in flight, 409.",
            // As `shared::idempotency::valid_key` accepts: visible ASCII, `!` to `~`.
            "schema": {"type": "string", "pattern": format!("^[!-~]{{1,{}}}$", shared::idempotency::MAX_KEY_LEN)},
        }));
    }
    if function.name == "update_user" {
        parameters.push(json!({
            "name": "If-Match",
            "in": "header",
            "required": false,
            "description": "The `ETag` the change was made against; a stale one gets 412.",
            "schema": {"type": "string"},
        }));
    }

    let mut errors: Vec<u16> = vec![500];
    errors.extend(operation.errors);
    if operation.request.is_some() {
        errors.extend([400, 413, 415]);
    }
    if !parameters.is_empty()
        && parameters
            .iter()
            .any(|p| p["in"] == "path" || p["in"] == "query")
    {
        errors.push(400);
    }
    if path.contains('{') {
        errors.push(404);
    }
    if let Access::Protected(policy) = access {
        errors.push(401);
        if !matches!(policy, Policy::Authenticated) {
            errors.push(403);
        }
    }
    if function.is_idempotent() {
        errors.extend([409, 422]);
    }
    errors.sort_unstable();
    errors.dedup();

    let (status, success_schema, meaning) = operation.success;
    let mut responses = Map::new();
    let success = match success_schema {
        Some(of) => {
            let name = of(schemas);
            json!({"description": meaning, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}})
        }
        None if function.name == "openapi" => {
            json!({"description": meaning, "content": {"application/json": {"schema": {"type": "object"}}}})
        }
        None if function.name == "docs" => {
            json!({"description": meaning, "content": {"text/html": {"schema": {"type": "string"}}}})
        }
        None => json!({"description": meaning}),
    };
    responses.insert(status.to_string(), success);
    for error in errors {
        let reason = match error {
            // An idempotent operation's only 422.
            422 if function.is_idempotent() => {
                "The `Idempotency-Key` was used with a different request (`idempotency_key_reused`)."
            }
            _ => http::StatusCode::from_u16(error)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error"),
        };
        responses.insert(
            error.to_string(),
            json!({"description": reason, "content": {"application/problem+json": {"schema": {"$ref": format!("#/components/schemas/{problem}")}}}}),
        );
    }

    let mut body = json!({
        "operationId": function.name,
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": responses,
    });
    if !parameters.is_empty() {
        body["parameters"] = Value::Array(parameters);
    }
    if let Some(of) = operation.request {
        let name = of(schemas);
        body["requestBody"] = json!({
            "required": function.name != "logout",
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}},
        });
    }
    match access {
        Access::Public => body["security"] = json!([]),
        Access::Protected(policy) => {
            body["security"] = json!([{"bearer": []}]);
            let who = match policy {
                Policy::Authenticated => "Any signed-in user.".to_owned(),
                Policy::Permission(p) => format!("Requires `{p}`."),
                Policy::PermissionOrSelf(p) => {
                    format!("Requires `{p}`, or the caller is the user `{{id}}` names.")
                }
            };
            body["description"] = json!(who);
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_document_is_the_one_the_code_builds() {
        let built = document_text();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(COMMITTED_PATH, &built).expect("writing openapi.json");
            return;
        }
        assert!(
            built == COMMITTED,
            "functions/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p functions openapi` and commit it"
        );
    }

    #[test]
    fn every_route_of_the_table_has_its_operation_and_no_operation_is_stray() {
        let routes: Vec<_> = FUNCTIONS
            .iter()
            .filter(|f| f.route().is_some())
            .map(|f| f.name)
            .collect();
        let missing: Vec<_> = routes
            .iter()
            .filter(|name| !OPERATIONS.iter().any(|o| o.function == **name))
            .collect();
        assert!(
            missing.is_empty(),
            "routes without an operation in OPERATIONS: {missing:?}"
        );
        let stray: Vec<_> = OPERATIONS
            .iter()
            .filter(|o| !routes.contains(&o.function))
            .map(|o| o.function)
            .collect();
        assert!(stray.is_empty(), "operations of no route: {stray:?}");

        let document = document();
        for function in FUNCTIONS {
            let Some(route) = function.route() else {
                continue;
            };
            let operation = &document["paths"][route.path][route.method.to_lowercase()];
            assert_eq!(
                operation["operationId"], function.name,
                "{} {}",
                route.method, route.path
            );
        }
    }

    #[test]
    fn every_reference_names_a_schema_of_the_document() {
        let document = document();
        let text = document.to_string();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(
                document["components"]["schemas"].get(name).is_some(),
                "{name} is referred to but not defined"
            );
        }
    }
}
