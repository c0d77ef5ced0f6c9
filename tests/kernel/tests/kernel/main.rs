//! Kernel integration tests: each test runs against the real af_key in a private network
//! namespace. Run them with `tests/lab/vm` (or `PFKEY_LAB=native tests/lab/vm` on a host with
//! PF_KEY); outside the lab they fail.

mod common;
mod lab;
mod quirks;
mod sa;
mod spd;
