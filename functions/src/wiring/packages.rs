//! The binaries the functions run: each function runs the binary of its package, which holds
//! the handlers of a few functions and links only the AWS services they use.
//!
//! One binary for every function would link every SDK, the image decoders and every handler
//! into each package (5.2 MB zipped); one binary per function would be one slow whole-program
//! link each. Grouped by the services their handlers use (and the routes by API, so neither
//! route package carries every handler), four links serve every function, and a package
//! carries no SDK its functions never call (README, "Packaging"). Each function is still its own
//! Lambda function, with its own trigger, role, memory and scaling.

use infra::compose::Services;

use super::Function;

/// A binary (`functions/src/bin/<binary>.rs`, `BuildProperties.Binary` in template.yaml) and
/// the functions it runs, by their `Handler`.
#[derive(Debug, Clone, Copy)]
pub struct Package {
    pub binary: &'static str,
    /// What the binary links besides DynamoDB.
    pub services: Services,
    pub functions: &'static [Function],
}

/// The identity API (`/api/v1/auth/*`, the key set, health), on DynamoDB and Secrets Manager
/// alone.
pub const IDENTITY: Package = Package {
    binary: "identity",
    services: Services::BASE,
    functions: &[
        super::HEALTH,
        super::JWKS,
        super::OPENAPI,
        super::DOCS,
        super::REGISTER,
        super::VERIFY_EMAIL,
        super::RESEND_VERIFICATION,
        super::LOGIN,
        super::REFRESH,
        super::LOGOUT,
        super::LOGOUT_ALL,
        super::RESET_PASSWORD,
        super::CONFIRM_RESET,
        super::CHANGE_PASSWORD,
        super::PROFILE,
        super::PERMISSIONS,
        super::SESSIONS,
        super::DELETE_SESSION,
    ],
};

/// The administration API (users, roles and permissions, jobs), on DynamoDB and Secrets
/// Manager, and the bucket's upload forms, which are signed without the S3 SDK.
pub const ADMINISTRATION: Package = Package {
    binary: "administration",
    services: Services::BASE.with_s3_forms(),
    functions: &[
        super::CREATE_USER,
        super::LIST_USERS,
        super::GET_USER,
        super::UPDATE_USER,
        super::DELETE_USER,
        super::UPLOAD_AVATAR,
        super::USER_ROLES,
        super::ASSIGN_ROLE,
        super::REVOKE_ROLE,
        super::LIST_ROLES,
        super::CREATE_ROLE,
        super::GET_ROLE,
        super::UPDATE_ROLE,
        super::DELETE_ROLE,
        super::SET_ROLE_PERMISSIONS,
        super::LIST_PERMISSIONS,
        super::CREATE_PERMISSION,
        super::GET_PERMISSION,
        super::UPDATE_PERMISSION,
        super::DELETE_PERMISSION,
        super::CREATE_JOB,
        super::LIST_JOBS,
        super::GET_JOB,
        super::CANCEL_JOB,
        super::RETRY_JOB,
    ],
};

/// The event pipeline and the schedules: the stream relay and the queue consumers that publish
/// or react, on SQS besides.
pub const EVENTS: Package = Package {
    binary: "events",
    services: Services::BASE.with_sqs(),
    functions: &[
        super::RELAY,
        super::CONSUMER,
        super::AVATAR_UPLOADED,
        super::RECONCILE_OUTBOX,
        super::PURGE_EXPIRED,
        super::REDRIVE_STUCK_JOBS,
        super::CLEANUP_UNVERIFIED_USERS,
    ],
};

/// What reads or writes the bucket or sends mail: the job worker (mail, avatars, exports,
/// erasure). SQS, S3 and SES, and the image decoders; no Secrets Manager: no job holds a key.
pub const WORKER: Package = Package {
    binary: "worker",
    services: Services::STORE.with_sqs().with_s3().with_ses(),
    functions: &[super::WORKER],
};

/// Every package.
pub const PACKAGES: &[Package] = &[IDENTITY, ADMINISTRATION, EVENTS, WORKER];

/// Every function of every package, in package order.
pub(super) const ALL: [Function; count()] = all();

/// The package whose binary runs the function called `name`.
pub fn of(name: &str) -> Option<&'static Package> {
    PACKAGES
        .iter()
        .find(|package| package.functions.iter().any(|f| f.name == name))
}

const fn count() -> usize {
    let mut count = 0;
    let mut p = 0;
    while p < PACKAGES.len() {
        count += PACKAGES[p].functions.len();
        p += 1;
    }
    count
}

const fn all() -> [Function; count()] {
    let mut all = [super::HEALTH; count()];
    let (mut p, mut n) = (0, 0);
    while p < PACKAGES.len() {
        let functions = PACKAGES[p].functions;
        let mut i = 0;
        while i < functions.len() {
            all[n] = functions[i];
            n += 1;
            i += 1;
        }
        p += 1;
    }
    all
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use aws_credential_types::Credentials;
    use infra::compose::AwsBackend;
    use infra::config::{AwsEnv, Settings};
    use shared::clock::{OsRandom, SystemClock};

    use super::*;
    use crate::wiring::authenticator;

    /// An AWS backend with only `services`, every resource named as template.yaml names them.
    fn backend(services: Services) -> AwsBackend {
        let credentials = Credentials::new("id", "key", None, None, "test");
        let sdk = infra::sdk::config("eu-west-1", credentials, None);
        let queue = |name: &str| format!("https://sqs.eu-west-1.amazonaws.com/1/{name}");
        let env = AwsEnv {
            settings: Settings {
                app_url: Some("https://app.example.com".into()),
                public_blob_url: Some("https://cdn.example.com".into()),
                ..Settings::default()
            },
            table_name: Some("table".into()),
            jobs_queue_url: Some(queue("jobs")),
            events_queue_url: Some(queue("events")),
            blob_bucket: Some("bucket".into()),
            mail_from: Some("no-reply@example.com".into()),
            ..AwsEnv::default()
        };
        let (clock, random) = (Arc::new(SystemClock), Arc::new(OsRandom));
        AwsBackend::with_services(sdk, env, clock, random, services)
    }

    #[test]
    fn every_function_builds_over_the_services_its_package_links() {
        for package in PACKAGES {
            let backend = backend(package.services);
            for function in package.functions {
                let built = function.build(&backend, || authenticator(&backend));
                assert!(
                    built.is_ok(),
                    "{} in the `{}` binary: {:#}",
                    function.name,
                    package.binary,
                    built.unwrap_err()
                );
            }
        }
    }

    #[test]
    fn a_function_in_a_package_without_its_services_fails_to_build() {
        let backend = backend(IDENTITY.services);
        let error = crate::wiring::WORKER
            .build(&backend, || authenticator(&backend))
            .unwrap_err();
        assert!(format!("{error:#}").contains("does not link"), "{error:#}");
    }
}
