//! The `pfkey` command.
#[allow(dead_code)] // used by the SA commands, which are being written
mod input;
mod setkey;

fn main() {}
