//! Messages that are not replies to this client's requests, as typed events.
//!
//! A PF_KEY socket receives, besides its own replies (af_key `pfkey_broadcast`):
//! kernel-originated messages with `sadb_msg_pid == 0` (ACQUIRE, EXPIRE,
//! X_NAT_T_NEW_MAPPING to registered sockets; X_MIGRATE), and the broadcast
//! results of every other socket's ADD/UPDATE/DELETE/FLUSH and SPD changes (also
//! those made through XFRM netlink, e.g. by `ip xfrm`).
#![forbid(unsafe_code)]

use core::net::SocketAddr;

use crate::message::Message;
use crate::policy::Policy;
use crate::repr::{Address, Comb, MessageRepr};
use crate::wire::{Direction, MsgType, SaType};

use super::types::{with_port, FromMessage, PolicyInfo, SaInfo, SecCtx};

/// An event received on a PF_KEY socket.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The kernel needs an SA (RFC 2367 §3.1.6). Sent to registered sockets only.
    Acquire(Acquire),
    /// An SA's soft or hard lifetime ran out (RFC 2367 §3.1.8). Registered sockets only.
    Expire(Expire),
    /// A NAT-T peer's address or port changed (`SADB_X_NAT_T_NEW_MAPPING`).
    NewMapping(NewMapping),
    /// SAs and policies moved to new endpoints (`SADB_X_MIGRATE`).
    Migrate(Migrate),
    /// Another process (or another socket of this one) added, updated or deleted an
    /// SA. On a promiscuous socket this may also be the copy of a request.
    Sa(SaChange),
    /// SAs were flushed (`satype` unspec: all of them).
    SaFlush {
        /// The flushed type.
        satype: SaType,
        /// The requester's pid (0 for the kernel).
        pid: u32,
        /// The requester's sequence number.
        seq: u32,
    },
    /// A policy was added, updated or deleted.
    Policy(PolicyChange),
    /// The SPD was flushed.
    PolicyFlush {
        /// The requester's pid.
        pid: u32,
        /// The requester's sequence number.
        seq: u32,
    },
    /// Any other message (a REGISTER reply to another socket, X_PROMISC, promiscuous
    /// copies of requests, or a message lacking what its typed event needs).
    Other(MessageRepr),
    /// Events were dropped because the client's queue was full. PF_KEY itself has no
    /// overrun signal (a full socket buffer drops silently), so a consumer that must
    /// stay in sync reconciles by dumping.
    Lagged {
        /// How many events were dropped.
        missed: u64,
    },
}

/// An ACQUIRE (af_key `pfkey_send_acquire`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acquire {
    /// The kernel's acquire sequence number: pass it to GETSPI / ADD / UPDATE
    /// ([`super::SpiRequest::acquire_seq`], [`super::SaSpec::acquire_seq`]) to complete
    /// this larval state, or to [`super::Client::acquire_failed`].
    pub seq: u32,
    /// The SA type wanted.
    pub satype: SaType,
    /// The SA's source address.
    pub src: Address,
    /// The SA's destination address.
    pub dst: Address,
    /// Id of the policy that triggered it (Linux sends no reqid: map the id to state).
    pub policy_id: u32,
    /// The policy's direction (Linux always reports outbound).
    pub policy_dir: Direction,
    /// The policy's priority.
    pub policy_priority: u32,
    /// `sadb_prop_replay`.
    pub replay: u8,
    /// Acceptable algorithm combinations (may be empty).
    pub proposal: Vec<Comb>,
    /// Security context.
    pub sec_ctx: Option<SecCtx>,
}

/// An EXPIRE (af_key `key_notify_sa_expire`): carries no keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expire {
    /// Hard (the SA is gone; on a larval SA: the acquire timed out) or soft.
    pub hard: bool,
    /// The SA, with the lifetime that fired and the current counters.
    pub sa: SaInfo,
}

/// An `SADB_X_NAT_T_NEW_MAPPING` (af_key `pfkey_send_new_mapping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewMapping {
    /// The SA's km sequence number.
    pub seq: u32,
    /// The SA type (ESP).
    pub satype: SaType,
    /// The SA's SPI.
    pub spi: u32,
    /// The old address and port (`ADDRESS_SRC` + `NAT_T_SPORT`).
    pub old: SocketAddr,
    /// The new address and port (`ADDRESS_DST` + `NAT_T_DPORT`).
    pub new: SocketAddr,
}

/// An `SADB_X_MIGRATE` (af_key `pfkey_send_migrate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrate {
    /// Source selector.
    pub src: Address,
    /// Destination selector.
    pub dst: Address,
    /// The policy; its requests come in (old, new) pairs.
    pub policy: Policy,
    /// Key manager addresses (local, remote).
    pub kmaddress: Option<(SocketAddr, SocketAddr)>,
}

/// A change to an SA announced by broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaChange {
    /// ADD, UPDATE or DELETE.
    pub msg_type: MsgType,
    /// The requester's pid (XFRM netlink changes carry the netlink port id).
    pub pid: u32,
    /// The requester's sequence number.
    pub seq: u32,
    /// The SA, keys included for ADD and UPDATE (zeroized on drop).
    pub sa: SaInfo,
}

/// A change to a policy announced by broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChange {
    /// X_SPDADD, X_SPDUPDATE, X_SPDDELETE or X_SPDDELETE2.
    pub msg_type: MsgType,
    /// The requester's pid.
    pub pid: u32,
    /// The requester's sequence number.
    pub seq: u32,
    /// The policy.
    pub policy: PolicyInfo,
}

impl Event {
    /// Classifies a received message. Never fails: a message that lacks what its
    /// typed event needs becomes [`Event::Other`].
    pub fn from_message(m: &Message<'_>) -> Event {
        typed(m).unwrap_or_else(|| Event::Other(MessageRepr::from_message(m)))
    }
}

fn typed(m: &Message<'_>) -> Option<Event> {
    let (pid, seq) = (m.pid(), m.seq());
    Some(match m.msg_type() {
        MsgType::Acquire => {
            let pol = m.policy()?;
            let (replay, proposal) = match m.proposal() {
                Some(p) => (
                    p.header().replay,
                    p.combs().iter().map(Comb::from_wire).collect(),
                ),
                None => (0, Vec::new()),
            };
            Event::Acquire(Acquire {
                seq,
                satype: m.satype(),
                src: Address::from_view(&m.src()?),
                dst: Address::from_view(&m.dst()?),
                policy_id: pol.id(),
                policy_dir: pol.dir(),
                policy_priority: pol.priority(),
                replay,
                proposal,
                sec_ctx: m.sec_ctx().map(|c| SecCtx {
                    alg: c.header().alg,
                    doi: c.header().doi,
                    ctx: c.context().to_vec(),
                }),
            })
        }
        MsgType::Expire => Event::Expire(Expire {
            hard: m.lifetime_hard().is_some(),
            sa: SaInfo::from_message(m).ok()?,
        }),
        MsgType::XNatTNewMapping => Event::NewMapping(NewMapping {
            seq,
            satype: m.satype(),
            spi: m.sa()?.spi.get(),
            old: with_port(&m.src()?, m.nat_t_sport()),
            new: with_port(&m.dst()?, m.nat_t_dport()),
        }),
        MsgType::XMigrate => Event::Migrate(Migrate {
            src: Address::from_view(&m.src()?),
            dst: Address::from_view(&m.dst()?),
            policy: Policy::from_view(&m.policy()?),
            kmaddress: m.kmaddress().map(|k| (k.local(), k.remote())),
        }),
        t @ (MsgType::Add | MsgType::Update | MsgType::Delete) => Event::Sa(SaChange {
            msg_type: t,
            pid,
            seq,
            sa: SaInfo::from_message(m).ok()?,
        }),
        MsgType::Flush => Event::SaFlush {
            satype: m.satype(),
            pid,
            seq,
        },
        t @ (MsgType::XSpdAdd
        | MsgType::XSpdUpdate
        | MsgType::XSpdDelete
        | MsgType::XSpdDelete2) => Event::Policy(PolicyChange {
            msg_type: t,
            pid,
            seq,
            policy: PolicyInfo::from_message(m).ok()?,
        }),
        MsgType::XSpdFlush => Event::PolicyFlush { pid, seq },
        _ => return None,
    })
}
