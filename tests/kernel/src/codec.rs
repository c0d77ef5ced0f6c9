//! Requests built and replies checked with the `pfkey` codec.

use pfkey::builder::MessageBuilder;
use pfkey::repr::{Header, MessageRepr};
use pfkey::wire::{MsgType, SaType};
use pfkey::{BuildError, Message};

/// Builds one request from this process (`sadb_msg_pid` = our pid) with the codec; `f` adds
/// the extensions.
pub fn build(
    msg_type: MsgType,
    satype: SaType,
    seq: u32,
    f: impl FnOnce(&mut MessageBuilder<'_>) -> Result<(), BuildError>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = MessageBuilder::new_vec(
        &mut out,
        &Header::new(msg_type, satype, seq, std::process::id()),
    );
    f(&mut b).unwrap_or_else(|e| panic!("building {msg_type:?}: {e}"));
    b.finish()
        .unwrap_or_else(|e| panic!("finishing {msg_type:?}: {e}"));
    out
}

/// A header-only request.
pub fn header_only(msg_type: MsgType, satype: SaType, seq: u32) -> Vec<u8> {
    build(msg_type, satype, seq, |_| Ok(()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a kernel message with the codec; panics with a hex dump if the codec rejects it.
pub fn parse(bytes: &[u8]) -> Message<'_> {
    Message::parse(bytes)
        .unwrap_or_else(|e| panic!("the codec rejects a kernel message: {e}\n{}", hex(bytes)))
}

/// Checks that the codec reproduces a kernel message byte for byte: parse, convert to owned
/// values, emit. Panics with both hex dumps on a difference.
pub fn assert_round_trip(bytes: &[u8]) {
    let repr = MessageRepr::from_message(&parse(bytes));
    let emitted = repr.to_bytes().unwrap_or_else(|e| {
        panic!(
            "the codec cannot re-emit a kernel message: {e}\n{}",
            hex(bytes)
        )
    });
    assert!(
        emitted == bytes,
        "the codec does not round-trip a kernel message:\nkernel:  {}\nemitted: {}",
        hex(bytes),
        hex(&emitted)
    );
}
