//! Support library for pfkey's kernel integration tests.
//!
//! The tests in this crate talk to a real Linux af_key. They run inside the kernel lab
//! (`tests/lab/vm`), which boots a guest with af_key, or natively with `PFKEY_LAB=native` on a
//! host whose kernel has PF_KEY. Outside the lab they fail: the harness decides whether they
//! run, never the tests themselves.
//!
//! Every test starts with [`fresh_netns`], so tests see neither each other's SAs and policies
//! nor the host's. Requests are built with the `pfkey` codec, and every message the kernel
//! sends to a [`PfKeySocket`] is checked to parse and round-trip byte for byte through it.

pub mod cmd;
pub mod codec;
pub mod fixture;
pub mod netns;
pub mod socket;
pub mod xfrm;

pub use cmd::{as_nobody, ip, pfkey, Run};
pub use codec::{build, header_only, parse};
pub use fixture::capture_fixture;
pub use netns::{fresh_netns, veth_link, Netns, VethLink};
pub use socket::PfKeySocket;
pub use xfrm::{xfrm_policy, xfrm_state};
