//! The `retry_job` function: `POST /api/v1/jobs/{id}/retry`.

functions::lambda!(RETRY_JOB);
