//! Linux PF_KEY v2 (RFC 2367) messages.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod alg;
