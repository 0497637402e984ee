//! Every Lambda function of the system, in one binary: each function runs it as the entry of
//! the table its `Handler` names (Lambda passes it as `_HANDLER`). One build and one package
//! serve every function; each keeps its own trigger, role, memory and scaling (README,
//! "Packaging").

// Under `cargo test` the binary's test harness links none of the functions.
#[cfg(not(test))]
fn main() -> Result<(), functions::wiring::lambda::Error> {
    functions::wiring::lambda::main()
}
