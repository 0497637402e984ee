//! The job worker (`functions::wiring::packages::WORKER`): it runs this binary as the entry its
//! `Handler` names (Lambda passes it as `_HANDLER`; README, "Packaging").

// Under `cargo test` the binary's test harness links none of the functions.
#[cfg(not(test))]
fn main() -> Result<(), functions::wiring::lambda::Error> {
    functions::wiring::lambda::main(&functions::wiring::packages::WORKER)
}
