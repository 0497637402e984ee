//! The identity API's functions (`functions::wiring::packages::IDENTITY`): each runs this binary as
//! the entry its `Handler` names (Lambda passes it as `_HANDLER`; README, "Packaging").

// The request-serving packages allocate a request's buffers many times over; glibc's malloc was a
// quarter of an authenticated read's time (README, "Packaging").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Under `cargo test` the binary's test harness links none of the functions.
#[cfg(not(test))]
fn main() -> Result<(), functions::wiring::lambda::Error> {
    functions::wiring::lambda::main(&functions::wiring::packages::IDENTITY)
}
