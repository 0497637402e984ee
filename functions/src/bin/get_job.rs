//! The `get_job` function: `GET /api/v1/jobs/{id}`.

functions::lambda!(GET_JOB);
