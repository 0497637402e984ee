//! Creating accounts: self-registration, and the admin path that may create a verified user
//! with any roles.

use uuid::Uuid;

use crate::accounts::{AccountError, Accounts, ClientInfo, hashing};
use crate::auth::password::Password;
use crate::auth::throttle::{self, Decision, REGISTRATIONS_PER_EMAIL, REGISTRATIONS_PER_IP};
use crate::messaging::outbox::outbox_write;
use crate::rbac::admin::{Actor, RbacAdmin};
use crate::rbac::admins::{Roster, counts_as_admin};
use crate::rbac::model::{Assignment, seeded_role_id};
use crate::rbac::seed::{ADMIN, USER};
use crate::store::StoreError;
use crate::users::events::UserRegistered;
use crate::users::repo::{email_key, insert_writes};
use crate::users::{Email, Name, Phone, User, UserStatus};

/// A new account's fields, parsed.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: Email,
    pub name: Name,
    pub phone: Option<Phone>,
    pub password: Password,
    /// Created verified (admin path), or waiting for the verification mail.
    pub verified: bool,
    /// Roles besides USER, which every user holds.
    pub extra_roles: Vec<Uuid>,
}

impl Accounts {
    /// Self-registration: throttled per client, then per address; sends the verification mail.
    pub async fn register(
        &self,
        account: NewAccount,
        client: &ClientInfo,
    ) -> Result<User, AccountError> {
        let now = self.clock.now();
        let email_partition = email_key(&account.email).pk;
        let ip_partition = client.ip_partition();
        let rules = [
            (&REGISTRATIONS_PER_IP, ip_partition.as_str()),
            (&REGISTRATIONS_PER_EMAIL, email_partition.as_str()),
        ];
        if let Decision::Limited { retry_after } =
            throttle::hit_each(self.store.as_ref(), &rules, now).await?
        {
            return Err(AccountError::RateLimited { retry_after });
        }
        self.create(NewAccount {
            verified: false,
            ..account
        })
        .await
    }

    /// Creates an account. Unverified accounts get the verification mail (through the
    /// `user.registered` event, committed with the user).
    pub async fn create(&self, account: NewAccount) -> Result<User, AccountError> {
        let password_hash = hashing::hash(&account.password, self.random.as_ref()).await?;
        let now = self.clock.now();
        let user = User {
            id: self.random.id(),
            email: account.email,
            name: account.name,
            phone: account.phone,
            status: UserStatus::Active,
            email_verified: account.verified,
            password_hash,
            token_version: 0,
            avatar_url: None,
            avatar_key: None,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let mut role_ids = vec![seeded_role_id(USER)];
        for id in account.extra_roles {
            if !role_ids.contains(&id) {
                role_ids.push(id);
            }
        }
        let assignments: Vec<Assignment> = role_ids
            .into_iter()
            .map(|role_id| Assignment {
                user_id: user.id,
                role_id,
                granted_at: now,
                expires_at: None,
            })
            .collect();
        let event = self.user_event(
            &user,
            &UserRegistered {
                user_id: user.id,
                verified: user.email_verified,
            },
        );
        let admin = counts_as_admin(&user, &assignments);
        for _ in 0..3 {
            let mut writes = insert_writes(&user, &assignments)?;
            writes.push(outbox_write(&event));
            if admin {
                let roster = Roster::read(self.store.as_ref()).await?;
                writes.push(roster.with_member(user.id, true)?);
            }
            match self.store.transact(writes).await {
                Ok(()) => {
                    tracing::info!(user_id = %user.id, "account created");
                    return Ok(user);
                }
                Err(StoreError::ConditionFailed { index: 0 }) => {
                    return Err(AccountError::EmailTaken);
                }
                // Only the roster can have moved: read it again.
                Err(StoreError::ConditionFailed { .. }) if admin => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(AccountError::Unexpected(anyhow::anyhow!(
            "the administrators kept changing while an administrator was created"
        )))
    }
}

impl Accounts {
    /// Makes sure an administrator exists: creates a verified account with the ADMIN role, or,
    /// when the address is registered already, gives that account the role. Returns the user
    /// and whether it was created.
    pub async fn ensure_admin(
        &self,
        email: Email,
        name: Name,
        password: Password,
    ) -> Result<(User, bool), AccountError> {
        let admin = seeded_role_id(ADMIN);
        let account = NewAccount {
            email: email.clone(),
            name,
            phone: None,
            password,
            verified: true,
            extra_roles: vec![admin],
        };
        match self.create(account).await {
            Ok(user) => Ok((user, true)),
            Err(AccountError::EmailTaken) => {
                let users = crate::users::UserRepo::new(self.store.clone());
                let user = users.by_email(&email).await?.ok_or_else(|| {
                    AccountError::Unexpected(anyhow::anyhow!("the address is claimed by no user"))
                })?;
                let admins =
                    RbacAdmin::new(self.store.clone(), self.clock.clone(), self.random.clone());
                let permissions = Default::default();
                let operator = Actor {
                    permissions: &permissions,
                    is_admin: true,
                };
                admins
                    .assign(operator, user.id, admin, None)
                    .await
                    .map_err(|e| AccountError::Unexpected(e.into()))?;
                Ok((user, false))
            }
            Err(e) => Err(e),
        }
    }
}
