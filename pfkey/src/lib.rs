//! Linux PF_KEY v2 (RFC 2367) messages: zero-copy parsing, allocation-free building,
//! and the Linux rules for both.
//!
//! ```
//! use pfkey::builder::MessageBuilder;
//! use pfkey::message::Message;
//! use pfkey::repr::{Address, Header, Sa, Sa2};
//! use pfkey::wire::{ExtType, Mode, MsgType, SaType};
//!
//! // Build an ADD for an ESP SA (AES-CBC + HMAC-SHA1) into a stack buffer.
//! let mut buf = [0u8; 512];
//! let mut b = MessageBuilder::new(&mut buf, &Header::new(MsgType::Add, SaType::Esp, 1, 4242))?;
//! b.sa(&Sa { spi: 0x1000, auth: pfkey::alg::SADB_AALG_SHA1HMAC,
//!            encrypt: pfkey::alg::SADB_X_EALG_AESCBC, ..Sa::default() })?;
//! b.address(ExtType::AddressSrc, &Address::host("10.0.0.1".parse().unwrap()))?;
//! b.address(ExtType::AddressDst, &Address::host("10.0.0.2".parse().unwrap()))?;
//! b.key(ExtType::KeyAuth, 160, &[0x11; 20])?;
//! b.key(ExtType::KeyEncrypt, 128, &[0x22; 16])?;
//! b.sa2(&Sa2 { mode: Mode::Transport, sequence: 0, reqid: 0 })?;
//! let bytes = b.finish()?;
//!
//! // Parse it back: validated once, then read in place.
//! let msg = Message::parse(bytes).expect("valid");
//! assert_eq!(msg.msg_type(), MsgType::Add);
//! assert_eq!(msg.sa().unwrap().spi.get(), 0x1000);
//! assert_eq!(msg.dst().unwrap().ip().to_string(), "10.0.0.2");
//! assert_eq!(msg.key_auth().unwrap().bits(), 160);
//! # Ok::<(), pfkey::BuildError>(())
//! ```
//!
//! # Layout
//!
//! - [`wire`]: constants, typed enumerations and the `struct sadb_*` layouts, with
//!   byte order carried by the field types.
//! - [`message`]: [`Message`], a validated view of one received or built message.
//! - [`builder`]: [`builder::MessageBuilder`], writing into a slice or one `Vec`.
//! - [`repr`] and [`policy`]: owned values for every extension, for code that
//!   prefers plain structs to views.
//! - [`alg`]: the algorithm table (ids, names, key sizes, what Linux PF_KEY can do).
//! - [`render`]: a protocol-analyzer text rendering of any message.
//! - [`client`]: [`Client`], correlated requests, streaming dumps and events over a
//!   [`transport::Transport`] ([`socket::PfKeySocket`] for a real PF_KEY socket).
//! - [`sockpolicy`] and [`xfrm`]: per-socket IPsec policy (`IP_IPSEC_POLICY`,
//!   `IP_XFRM_POLICY`).
//! - [`sys`]: the few system calls nix cannot make; the only module with `unsafe`.
//!
//! # Guarantees
//!
//! - Nothing in the codec panics on any input; the parser is fuzzed.
//! - [`Message::parse`] applies the checks of Linux `af_key.c` and reports the
//!   extension type and byte offset of the first violation ([`ParseError`]).
//! - Parsing and walking a message allocate nothing; building into a slice
//!   allocates nothing.
//! - Unknown extension types and enumeration values are kept and re-emitted.
//! - Key material is never printed by `Debug` and owned keys are zeroized on drop.
//! - The codec modules are `#![forbid(unsafe_code)]`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod alg;
pub mod builder;
pub mod client;
pub mod error;
pub mod message;
pub mod policy;
pub mod render;
pub mod repr;
pub mod socket;
pub mod sockpolicy;
pub mod sys;
pub mod transport;
pub mod wire;
pub mod xfrm;

pub use client::Client;
pub use error::{BuildError, ParseError};
pub use message::Message;
