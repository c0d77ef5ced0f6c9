//! The `pfkey` command.
fn main() {}
