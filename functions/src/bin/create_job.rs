//! The `create_job` function: `POST /api/v1/jobs`.

functions::lambda!(CREATE_JOB);
