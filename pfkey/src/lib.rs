//! Linux PF_KEY v2 (RFC 2367) messages.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod alg;
pub mod error;
pub mod message;
pub mod wire;

pub use error::{BuildError, ParseError};
pub use message::Message;
pub mod builder;
pub mod policy;
pub mod render;
pub mod repr;
