//! The `cancel_job` function: `POST /api/v1/jobs/{id}/cancel`.

functions::lambda!(CANCEL_JOB);
