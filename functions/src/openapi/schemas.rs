//! The shapes of the API's answers, for the document. The request bodies derive their schemas
//! where they are parsed (each endpoint's `Body`); the answers are built as JSON by the
//! endpoints, and described here. The suite checks the answers of a tour of every endpoint
//! against these.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use uuid::Uuid;

/// A new password: [`shared::auth::password::Password`]'s lengths, in characters.
pub fn new_password() -> Object {
    use shared::auth::password::{MAX_CHARS, MIN_CHARS};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(MIN_CHARS))
        .max_length(Some(MAX_CHARS))
        .build()
}

/// The job types `POST /jobs` creates.
pub fn creatable_job_type() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            crate::jobs::creatable::CREATABLE.iter().map(|c| c.name),
        ))
        .build()
}

/// The image types an avatar may be uploaded as, read as the handler reads them: in any case,
/// white space around them ignored.
pub fn avatar_content_type() -> Object {
    // What `str::trim` takes for white space, spelled out: ECMA's `\s` differs by two characters.
    const SPACE: &str = "[\t\n\u{b}\u{c}\r \u{85}\u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}]*";
    let types: Vec<String> = crate::users::upload_avatar::CONTENT_TYPES
        .iter()
        .map(|name| {
            name.chars()
                .map(|c| match c {
                    'a'..='z' => format!("[{c}{}]", c.to_ascii_uppercase()),
                    _ => c.to_string(),
                })
                .collect()
        })
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!(
            "One of {}, in any case.",
            crate::users::upload_avatar::CONTENT_TYPES.join(", ")
        )))
        .pattern(Some(format!("^{SPACE}(?:{}){SPACE}$", types.join("|"))))
        .build()
}

#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Disabled,
}

/// A user as the API shows one: never their password hash or token version.
#[derive(Debug, ToSchema)]
pub struct User {
    pub id: Uuid,
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "Ada Lovelace")]
    pub name: String,
    pub phone: Option<String>,
    pub status: UserStatus,
    pub email_verified: bool,
    pub avatar_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, ToSchema)]
pub struct UserBody {
    pub user: User,
}

#[derive(Debug, ToSchema)]
pub struct UserPage {
    pub items: Vec<User>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, ToSchema)]
pub struct TokenPair {
    /// A JWT (EdDSA), valid for `expires_in` seconds.
    pub access_token: String,
    /// Single-use: a refresh returns a new one.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    #[schema(example = 900)]
    pub expires_in: u64,
    pub user: User,
}

/// A role held by a user.
#[derive(Debug, ToSchema)]
pub struct HeldRole {
    pub id: Uuid,
    pub name: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, ToSchema)]
pub struct Profile {
    pub user: User,
    pub roles: Vec<HeldRole>,
    /// Every permission the caller holds, by name (`resource:action`).
    pub permissions: Vec<String>,
}

#[derive(Debug, ToSchema)]
pub struct Grant {
    #[schema(example = "users:read")]
    pub name: String,
    pub resource: String,
    pub action: String,
    /// The role that grants it.
    pub granted_by: String,
}

#[derive(Debug, ToSchema)]
pub struct GrantList {
    pub items: Vec<Grant>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, ToSchema)]
pub struct Session {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Whether the request's access token belongs to it.
    pub current: bool,
}

#[derive(Debug, ToSchema)]
pub struct SessionList {
    pub items: Vec<Session>,
    pub next_cursor: Option<String>,
}

/// A role assigned to a user.
#[derive(Debug, ToSchema)]
pub struct Assignment {
    pub id: Uuid,
    pub name: String,
    pub granted_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, ToSchema)]
pub struct AssignmentBody {
    pub assignment: Assignment,
}

#[derive(Debug, ToSchema)]
pub struct AssignmentList {
    pub items: Vec<Assignment>,
    pub next_cursor: Option<String>,
}

/// A signed upload form: POST the file as multipart with these fields, the file last.
#[derive(Debug, ToSchema)]
pub struct AvatarForm {
    pub url: String,
    pub fields: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, ToSchema)]
pub struct PermissionRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, ToSchema)]
pub struct Role {
    pub id: Uuid,
    #[schema(example = "AUDITOR")]
    pub name: String,
    pub description: String,
    /// ADMIN's: every permission, present and future.
    pub grants_all: bool,
    /// Seeded roles cannot be deleted or renamed.
    pub seeded: bool,
    pub permissions: Vec<PermissionRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, ToSchema)]
pub struct RoleBody {
    pub role: Role,
}

#[derive(Debug, ToSchema)]
pub struct RoleList {
    pub items: Vec<Role>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, ToSchema)]
pub struct Permission {
    pub id: Uuid,
    #[schema(example = "reports:read")]
    pub name: String,
    pub description: String,
    pub seeded: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, ToSchema)]
pub struct PermissionBody {
    pub permission: Permission,
}

#[derive(Debug, ToSchema)]
pub struct PermissionList {
    pub items: Vec<Permission>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Dead,
    Cancelled,
}

#[derive(Debug, ToSchema)]
pub struct Job {
    pub id: Uuid,
    #[schema(example = "export_users")]
    pub job_type: String,
    /// The job's input; `null` for the internal types (their input may hold a mail's link).
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    pub status: JobStatus,
    pub attempts: u32,
    pub max_attempts: u32,
    pub last_error: Option<String>,
    /// What a succeeded job produced (an export's download link, ...).
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub run_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub version: u64,
}

#[derive(Debug, ToSchema)]
pub struct JobBody {
    pub job: Job,
}

#[derive(Debug, ToSchema)]
pub struct JobPage {
    pub items: Vec<Job>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
    pub version: String,
}

/// A public key (RFC 8037: Ed25519 as OKP).
#[derive(Debug, ToSchema)]
pub struct Jwk {
    #[schema(example = "OKP")]
    pub kty: String,
    #[schema(example = "Ed25519")]
    pub crv: String,
    #[schema(example = "EdDSA")]
    pub alg: String,
    #[schema(example = "sig")]
    pub r#use: String,
    pub kid: String,
    pub x: String,
}

#[derive(Debug, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An error (RFC 9457), `application/problem+json`.
#[derive(Debug, ToSchema)]
pub struct Problem {
    #[schema(example = "about:blank")]
    pub r#type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable and machine-readable: what clients branch on.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// For `validation_failed`: what is wrong with which field.
    pub errors: Option<Vec<FieldError>>,
    pub request_id: Option<String>,
}

// The handlers read a new permission and a change of a role or permission alike
// (`rbac::views::NameAndDescription`), refusing a new one without a name and a name unlike its
// kind's; these say what each accepts.
/// A new permission: its name, `resource:action`, and what it allows.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "reports:read", "description": "Reads the reports"}))]
pub struct CreatePermissionRequest {
    #[schema(pattern = r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// A change of a role: its name and description, each left as it is when absent.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "AUDITOR", "description": "Reads reports"}))]
pub struct UpdateRoleRequest {
    #[serde(default)]
    #[schema(pattern = r"^[A-Z][A-Z0-9_]{1,63}$")]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// A change of a permission: its name and description, each left as it is when absent.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "reports:read", "description": "Reads the reports"}))]
pub struct UpdatePermissionRequest {
    #[serde(default)]
    #[schema(pattern = r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}
