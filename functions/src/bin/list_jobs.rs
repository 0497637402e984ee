//! The `list_jobs` function: `GET /api/v1/jobs`.

functions::lambda!(LIST_JOBS);
