//! How roles, permissions and the catalog's errors read over HTTP.

use serde::Deserialize;
use serde_json::{Value, json};
use shared::rbac::{Catalog, Permission, RbacError, Role};

use crate::http::{ApiError, FieldError};

/// Longest description of a role or permission.
pub const MAX_DESCRIPTION: usize = 500;

/// A role with the names of what it grants.
pub fn role(catalog: &Catalog, role: &Role) -> Value {
    let permissions: Vec<Value> = catalog
        .permissions_of(role)
        .into_iter()
        .map(|p| json!({ "id": p.id, "name": p.name }))
        .collect();
    json!({
        "id": role.id,
        "name": role.name,
        "description": role.description,
        "grants_all": role.grants_all,
        "seeded": role.seeded,
        "permissions": permissions,
        "created_at": role.created_at,
        "updated_at": role.updated_at,
    })
}

pub fn permission(permission: &Permission) -> Value {
    json!({
        "id": permission.id,
        "name": permission.name,
        "description": permission.description,
        "seeded": permission.seeded,
        "created_at": permission.created_at,
        "updated_at": permission.updated_at,
    })
}

/// `{"role": ...}` for the role `id` of the catalog.
pub fn role_of(catalog: &Catalog, id: uuid::Uuid) -> Result<axum::Json<Value>, ApiError> {
    let found = catalog.role(id).ok_or(ApiError::NotFound)?;
    Ok(axum::Json(json!({ "role": role(catalog, found) })))
}

/// The name and description fields of a create or change request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "reports:read", "description": "Reads the reports"}))]
pub struct NameAndDescription {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl NameAndDescription {
    /// The fields of a new role or permission: the name is required.
    pub fn parse_new<N, E: std::fmt::Display>(
        self,
        parse: impl Fn(&str) -> Result<N, E>,
    ) -> Result<(N, String), ApiError> {
        let missing = self.name.is_none();
        match self.parse(parse, missing)? {
            (Some(name), description) => Ok((name, description.unwrap_or_default())),
            (None, _) => Err(ApiError::Validation(vec![FieldError::new(
                "name",
                "is required",
            )])),
        }
    }

    /// The name parsed with `parse` and the description checked, every invalid field named.
    pub fn parse<N, E: std::fmt::Display>(
        self,
        parse: impl Fn(&str) -> Result<N, E>,
        name_required: bool,
    ) -> Result<(Option<N>, Option<String>), ApiError> {
        let mut errors = Vec::new();
        let name = match self.name.as_deref().map(&parse) {
            Some(Ok(name)) => Some(name),
            Some(Err(e)) => {
                errors.push(FieldError::new("name", e.to_string()));
                None
            }
            None if name_required => {
                errors.push(FieldError::new("name", "is required"));
                None
            }
            None => None,
        };
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
        {
            errors.push(FieldError::new(
                "description",
                format!("must be at most {MAX_DESCRIPTION} characters"),
            ));
        }
        if errors.is_empty() {
            Ok((name, self.description))
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

impl From<RbacError> for ApiError {
    fn from(error: RbacError) -> Self {
        let detail = error.to_string();
        match error {
            RbacError::NotFound => ApiError::NotFound,
            RbacError::NameTaken => ApiError::Conflict {
                code: "name_taken",
                detail,
            },
            RbacError::Seeded(_) => ApiError::Conflict {
                code: "seeded",
                detail,
            },
            RbacError::GrantsAll => ApiError::Conflict {
                code: "grants_all",
                detail,
            },
            RbacError::LastAdmin(_) => ApiError::Conflict {
                code: "last_admin",
                detail,
            },
            RbacError::Escalation(_) => ApiError::Forbidden {
                code: "escalation",
                detail,
            },
            RbacError::UnknownPermissions(ids) => {
                let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                ApiError::Validation(vec![FieldError::new(
                    "permission_ids",
                    format!("no such permission: {}", ids.join(", ")),
                )])
            }
            RbacError::UnknownRole => {
                ApiError::Validation(vec![FieldError::new("role_id", "no such role")])
            }
            RbacError::InvalidField { field, message } => {
                ApiError::Validation(vec![FieldError::new(field, message)])
            }
            RbacError::Unexpected(e) => ApiError::Internal(e),
        }
    }
}
