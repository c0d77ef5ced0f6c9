//! Errors of the client, with the operation they belong to and the kernel's errno
//! put into words.
#![forbid(unsafe_code)]

use core::fmt;
use core::net::IpAddr;
use std::io;
use std::time::Duration;

use crate::error::{BuildError, ParseError};
use crate::repr::Address;
use crate::wire::{Direction, ExtType, MsgType, SaType};

/// What a request was about: printed in front of every error so that a user can tell
/// which of several requests failed, e.g. `add esp spi 0x1000 10.0.0.1 -> 10.0.0.2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The request's message type.
    pub msg_type: MsgType,
    /// The request's SA type.
    pub satype: SaType,
    /// The SPI (CPI for IPComp), for requests about one SA.
    pub spi: Option<u32>,
    /// Source address or selector.
    pub src: Option<Address>,
    /// Destination address or selector.
    pub dst: Option<Address>,
    /// Policy direction, for SPD requests.
    pub dir: Option<Direction>,
    /// Policy id, for SPDGET / SPDDELETE2.
    pub policy_id: Option<u32>,
}

impl Operation {
    /// An operation of `msg_type` on `satype` with no further detail.
    pub const fn new(msg_type: MsgType, satype: SaType) -> Self {
        Operation {
            msg_type,
            satype,
            spi: None,
            src: None,
            dst: None,
            dir: None,
            policy_id: None,
        }
    }

    /// Adds an SPI.
    pub fn with_spi(mut self, spi: u32) -> Self {
        self.spi = Some(spi);
        self
    }

    /// Adds host endpoints.
    pub fn with_hosts(mut self, src: IpAddr, dst: IpAddr) -> Self {
        self.src = Some(Address::host(src));
        self.dst = Some(Address::host(dst));
        self
    }

    /// Adds source and destination addresses or selectors.
    pub fn with_addresses(mut self, src: Address, dst: Address) -> Self {
        self.src = Some(src);
        self.dst = Some(dst);
        self
    }

    /// Adds a policy direction.
    pub fn with_dir(mut self, dir: Direction) -> Self {
        self.dir = Some(dir);
        self
    }

    /// Adds a policy id.
    pub fn with_policy_id(mut self, id: u32) -> Self {
        self.policy_id = Some(id);
        self
    }

    /// The command-style name of the message type: `add`, `spdadd`, `flush`, …
    pub fn name(&self) -> Option<&'static str> {
        Some(match self.msg_type {
            MsgType::GetSpi => "getspi",
            MsgType::Update => "update",
            MsgType::Add => "add",
            MsgType::Delete => "delete",
            MsgType::Get => "get",
            MsgType::Acquire => "acquire",
            MsgType::Register => "register",
            MsgType::Expire => "expire",
            MsgType::Flush => "flush",
            MsgType::Dump => "dump",
            MsgType::XPromisc => "promisc",
            MsgType::XPchange => "pchange",
            MsgType::XSpdUpdate => "spdupdate",
            MsgType::XSpdAdd => "spdadd",
            MsgType::XSpdDelete => "spddelete",
            MsgType::XSpdGet => "spdget",
            MsgType::XSpdAcquire => "spdacquire",
            MsgType::XSpdDump => "spddump",
            MsgType::XSpdFlush => "spdflush",
            MsgType::XSpdSetIdx => "spdsetidx",
            MsgType::XSpdExpire => "spdexpire",
            MsgType::XSpdDelete2 => "spddelete2",
            MsgType::XNatTNewMapping => "nat-t-new-mapping",
            MsgType::XMigrate => "migrate",
            MsgType::Reserved | MsgType::Unknown(_) => return None,
        })
    }

    /// Whether the message is about SAs (RFC 2367 message types 1–10), whose
    /// `satype` is meaningful.
    fn is_sa_message(&self) -> bool {
        (1..=10).contains(&self.msg_type.value())
    }
}

/// Writes an address the way setkey does: `10.0.0.1`, `10.0.0.0/24`, `10.0.0.1[500]`.
fn fmt_address(f: &mut fmt::Formatter<'_>, a: &Address) -> fmt::Result {
    let full = if a.addr.is_ipv4() { 32 } else { 128 };
    write!(f, "{}", a.addr.ip())?;
    if a.prefix_len != full {
        write!(f, "/{}", a.prefix_len)?;
    }
    if a.addr.port() != 0 {
        write!(f, "[{}]", a.addr.port())?;
    }
    Ok(())
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n)?,
            None => write!(f, "message type {}", self.msg_type.value())?,
        }
        if self.is_sa_message() {
            match (self.msg_type, self.satype) {
                (MsgType::Flush | MsgType::Dump, SaType::Unspec) => f.write_str(" all")?,
                (MsgType::Acquire, _) => write!(f, " {}", self.satype)?,
                (_, SaType::Unspec) => {}
                (_, t) => write!(f, " {t}")?,
            }
        }
        if let Some(spi) = self.spi {
            write!(f, " spi {spi:#x}")?;
        }
        if let (Some(s), Some(d)) = (&self.src, &self.dst) {
            f.write_str(" ")?;
            fmt_address(f, s)?;
            f.write_str(" -> ")?;
            fmt_address(f, d)?;
            if s.proto != crate::wire::IPSEC_ULPROTO_ANY && !self.is_sa_message() {
                write!(f, " proto {}", s.proto)?;
            }
        }
        if let Some(dir) = self.dir {
            write!(f, " {dir}")?;
        }
        if let Some(id) = self.policy_id {
            write!(f, " id {id}")?;
        }
        Ok(())
    }
}

/// What went wrong, and where.
///
/// The first three variants are about opening the socket (so that a command can exit
/// with a code of its own for each); [`Error::Kernel`] is an error reply from the
/// kernel (a header-only copy of the request with `sadb_msg_errno` set, af_key
/// `pfkey_error`), printed with the operation and the errno in words.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `socket(PF_KEY, …)` failed with `EAFNOSUPPORT`: the kernel has no af_key.
    #[error("this kernel has no PF_KEY support (CONFIG_NET_KEY, module af_key): modprobe af_key")]
    NoPfKey,
    /// `socket(PF_KEY, …)` failed with `EPERM` or `EACCES` (af_key `pfkey_create`
    /// checks `CAP_NET_ADMIN` in the network namespace's user namespace).
    #[error("permission denied: PF_KEY needs root or CAP_NET_ADMIN ({})", errno_name(i32::from(*errno)))]
    PermissionDenied {
        /// `EPERM` or `EACCES`.
        errno: u8,
    },
    /// Any other failure to open or set up the socket.
    #[error("cannot open a PF_KEY socket: {}", open_words(source))]
    Open {
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Sending a request failed (af_key rejects malformed headers at `send()` with
    /// `EINVAL` or `EMSGSIZE`, and then sends no reply).
    #[error("{op}: sending the request failed: {}", io_words(source))]
    Send {
        /// The request.
        op: Box<Operation>,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Receiving failed.
    #[error(
        "{}receiving from the PF_KEY socket failed: {}",
        op_prefix(op),
        io_words(source)
    )]
    Recv {
        /// The request being answered, if any.
        op: Option<Box<Operation>>,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The reply did not come in time. PF_KEY drops messages silently when a
    /// socket's receive buffer is full (af_key `pfkey_broadcast_one`), so a lost
    /// reply is possible; this is never an endless wait.
    #[error("{op}: no reply from the kernel within {}", Secs(*waited))]
    Timeout {
        /// The request.
        op: Box<Operation>,
        /// How long the client waited.
        waited: Duration,
    },
    /// The reply to the request is not a valid PF_KEY message.
    #[error("{op}: the kernel's reply is not a valid PF_KEY message: {source}")]
    Parse {
        /// The request.
        op: Box<Operation>,
        /// What is wrong with the reply.
        #[source]
        source: ParseError,
    },
    /// The reply lacks an extension the kernel always sends for this message.
    #[error("{op}: the kernel's reply has no {missing} extension")]
    Incomplete {
        /// The request.
        op: Box<Operation>,
        /// The missing extension.
        missing: ExtType,
    },
    /// The request could not be built.
    #[error("{op}: cannot build the request: {source}")]
    Build {
        /// The request.
        op: Box<Operation>,
        /// Why.
        #[source]
        source: BuildError,
    },
    /// The request cannot be made in the client's current state.
    #[error("{op}: {reason}")]
    Unsupported {
        /// The request.
        op: Box<Operation>,
        /// Why.
        reason: &'static str,
    },
    /// The kernel answered with an error (`sadb_msg_errno ≠ 0`).
    #[error("{op}: {}", kernel_words(op, *errno))]
    Kernel {
        /// The request.
        op: Box<Operation>,
        /// `sadb_msg_errno` as the kernel sent it (234 is a dump aborted with
        /// `-EINVAL` truncated to 8 bits, af_key `pfkey_do_dump`).
        errno: u8,
    },
}

impl Error {
    /// The kernel's errno for [`Error::Kernel`], [`Error::PermissionDenied`], and OS
    /// errors.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } | Error::PermissionDenied { errno } => {
                Some(i32::from(*errno))
            }
            Error::NoPfKey => Some(libc::EAFNOSUPPORT),
            Error::Open { source } | Error::Send { source, .. } | Error::Recv { source, .. } => {
                source.raw_os_error()
            }
            _ => None,
        }
    }

    /// The operation the error belongs to, if any.
    pub fn operation(&self) -> Option<&Operation> {
        match self {
            Error::Send { op, .. }
            | Error::Timeout { op, .. }
            | Error::Parse { op, .. }
            | Error::Incomplete { op, .. }
            | Error::Build { op, .. }
            | Error::Unsupported { op, .. }
            | Error::Kernel { op, .. } => Some(&**op),
            Error::Recv { op, .. } => op.as_deref(),
            _ => None,
        }
    }

    /// Whether this is a kernel error reply with `errno`.
    pub fn is_kernel_errno(&self, errno: i32) -> bool {
        matches!(self, Error::Kernel { errno: e, .. } if i32::from(*e) == errno)
    }
}

/// Formats a duration as `5 s` or `250 ms`.
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_millis() == 0 && d.as_secs() > 0 {
            write!(f, "{} s", d.as_secs())
        } else {
            write!(f, "{} ms", d.as_millis())
        }
    }
}

fn op_prefix(op: &Option<Box<Operation>>) -> String {
    match op {
        Some(op) => format!("{op}: "),
        None => String::new(),
    }
}

/// `EEXIST`, `ESRCH`, … (or `errno N` for numbers without a name).
pub(crate) fn errno_name(errno: i32) -> String {
    match nix::errno::Errno::from_raw(errno) {
        nix::errno::Errno::UnknownErrno => format!("errno {errno}"),
        e => format!("{e:?}"),
    }
}

/// The OS's description of an errno, without Rust's " (os error N)" suffix.
fn strerror(errno: i32) -> String {
    match nix::errno::Errno::from_raw(errno) {
        nix::errno::Errno::UnknownErrno => "unknown error".to_string(),
        e => {
            let d = e.desc();
            // nix's descriptions start with a capital; lower it for use after a colon.
            let mut c = d.chars();
            match c.next() {
                Some(first) => first.to_lowercase().chain(c).collect(),
                None => String::new(),
            }
        }
    }
}

fn io_words(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{} ({})", strerror(n), errno_name(n)),
        None => e.to_string(),
    }
}

fn open_words(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EPROTONOSUPPORT) => {
            "the kernel does not accept PF_KEY protocol version 2 (EPROTONOSUPPORT)".to_string()
        }
        Some(libc::ESOCKTNOSUPPORT) => {
            "the kernel accepts only SOCK_RAW PF_KEY sockets (ESOCKTNOSUPPORT)".to_string()
        }
        Some(libc::EMFILE | libc::ENFILE) => {
            format!(
                "too many open files ({})",
                errno_name(e.raw_os_error().unwrap_or(0))
            )
        }
        _ => io_words(e),
    }
}

/// The kernel's errno in words, in the context of the operation (af_key.c handlers
/// and `linux-pfkey.md` §7, §13).
pub(crate) fn kernel_words(op: &Operation, errno: u8) -> String {
    use MsgType as M;
    let e = i32::from(errno);
    let t = op.msg_type;
    let words: String = match e {
        libc::EEXIST => match t {
            M::Add | M::GetSpi => "an SA with this SPI already exists".into(),
            M::Update => "the SA is in use by the kernel (an IPComp tunnel) and cannot be updated".into(),
            M::Register => "this socket is already registered for this SA type".into(),
            M::XSpdAdd | M::XSpdSetIdx => {
                "a policy with this selector and direction already exists".into()
            }
            _ => "already exists".into(),
        },
        libc::ESRCH => match t {
            M::Get | M::Delete | M::Update | M::Add => "no such SA".into(),
            _ => "no such SA or policy".into(),
        },
        libc::ENOENT => match t {
            M::XSpdDelete | M::XSpdDelete2 | M::XSpdGet | M::XSpdUpdate => "no such policy".into(),
            M::GetSpi => "no free SPI in the requested range, or no larval SA for this acquire sequence number".into(),
            M::Dump => "no SAs".into(),
            M::XSpdDump => "no policies".into(),
            _ => "not found".into(),
        },
        libc::ENOSYS => "algorithm not available through PF_KEY (unknown to this kernel, not built, or an AEAD algorithm such as AES-GCM that only XFRM netlink can configure)".into(),
        libc::EINVAL => match t {
            M::Add | M::Update => "the kernel rejected the SA as invalid (check the algorithms, key lengths, lifetimes, addresses and NAT-T settings; ESP needs an encryption algorithm, null with an empty key for none)".into(),
            M::GetSpi => "the kernel rejected the request as invalid (check the SA type, addresses and SPI range)".into(),
            M::Flush | M::Dump | M::Register => "SA type not accepted for this message".into(),
            M::XSpdAdd | M::XSpdUpdate | M::XSpdSetIdx => "the kernel rejected the policy as invalid (check the direction, action and templates; optional tunnel templates are refused in outbound policies)".into(),
            M::XSpdGet | M::XSpdDelete2 => "invalid policy id (per-socket policies cannot be read or deleted by id)".into(),
            _ => "the kernel rejected the request as invalid".into(),
        },
        libc::EBUSY => match t {
            M::Dump | M::XSpdDump => "a dump is already running on this socket".into(),
            _ => "busy".into(),
        },
        libc::EPERM => match t {
            M::Delete => "the SA is held by the kernel and cannot be deleted".into(),
            _ => "operation not permitted (needs root or CAP_NET_ADMIN)".into(),
        },
        libc::EACCES => "denied by a security module (SELinux, AppArmor, …)".into(),
        libc::ENOBUFS => "the kernel ran out of buffer space or of request ids".into(),
        libc::ENOMEM => "the kernel is out of memory".into(),
        libc::ELOOP => "more than 6 templates in the policy".into(),
        libc::EOPNOTSUPP => "the kernel does not support this message through PF_KEY".into(),
        libc::EPROTONOSUPPORT => "the kernel lacks the module for this IPsec protocol (esp4/esp6, ah4/ah6, ipcomp/ipcomp6)".into(),
        libc::ENOPROTOOPT if t == M::XMigrate => {
            "PF_KEY migration is not built into this kernel (CONFIG_NET_KEY_MIGRATE)".into()
        }
        libc::EINTR => "interrupted; try again".into(),
        234 => {
            return "dump aborted: the kernel holds an SA or policy PF_KEY cannot express (for example IP-TFS mode); use `ip xfrm` to see it (errno 234, -EINVAL truncated to 8 bits)".into()
        }
        _ => strerror(e),
    };
    format!("{words} ({})", errno_name(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add_op() -> Operation {
        Operation::new(MsgType::Add, SaType::Esp)
            .with_spi(0x1000)
            .with_hosts("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap())
    }

    #[test]
    fn kernel_error_reads_like_the_issue() {
        let e = Error::Kernel {
            op: Box::new(add_op()),
            errno: libc::EEXIST as u8,
        };
        assert_eq!(
            e.to_string(),
            "add esp spi 0x1000 10.0.0.1 -> 10.0.0.2: an SA with this SPI already exists (EEXIST)"
        );
        assert_eq!(e.errno(), Some(libc::EEXIST));
        assert!(e.is_kernel_errno(libc::EEXIST));
    }

    #[test]
    fn errno_words_depend_on_the_operation() {
        let get = Operation::new(MsgType::Get, SaType::Ah)
            .with_spi(0x200)
            .with_hosts("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        assert_eq!(kernel_words(&get, libc::ESRCH as u8), "no such SA (ESRCH)");
        assert_eq!(format!("{get}"), "get ah spi 0x200 fd00::1 -> fd00::2");
        let spd = Operation::new(MsgType::XSpdDelete, SaType::Unspec)
            .with_addresses(
                Address {
                    proto: 255,
                    prefix_len: 24,
                    addr: "10.1.0.0:0".parse().unwrap(),
                },
                Address {
                    proto: 6,
                    prefix_len: 32,
                    addr: "10.2.0.1:80".parse().unwrap(),
                },
            )
            .with_dir(Direction::Out);
        assert_eq!(
            Error::Kernel {
                op: Box::new(spd),
                errno: libc::ENOENT as u8
            }
            .to_string(),
            "spddelete 10.1.0.0/24 -> 10.2.0.1[80] out: no such policy (ENOENT)"
        );
        let flush = Operation::new(MsgType::Flush, SaType::Unspec);
        assert_eq!(flush.to_string(), "flush all");
        let dump = Operation::new(MsgType::Dump, SaType::Esp);
        assert_eq!(
            kernel_words(&dump, libc::EBUSY as u8),
            "a dump is already running on this socket (EBUSY)"
        );
        assert!(kernel_words(&add_op(), libc::ENOSYS as u8)
            .starts_with("algorithm not available through PF_KEY"));
        assert!(kernel_words(&dump, 234).starts_with("dump aborted"));
        let spdadd = Operation::new(MsgType::XSpdAdd, SaType::Unspec);
        assert_eq!(
            kernel_words(&spdadd, libc::ELOOP as u8),
            "more than 6 templates in the policy (ELOOP)"
        );
        let get_id = Operation::new(MsgType::XSpdGet, SaType::Unspec).with_policy_id(9);
        assert_eq!(get_id.to_string(), "spdget id 9");
        // Unknown errno numbers still print.
        assert!(kernel_words(&add_op(), 200).ends_with("(errno 200)"));
    }

    #[test]
    fn open_errors_are_words() {
        assert_eq!(
            Error::NoPfKey.to_string(),
            "this kernel has no PF_KEY support (CONFIG_NET_KEY, module af_key): modprobe af_key"
        );
        assert_eq!(
            Error::PermissionDenied {
                errno: libc::EPERM as u8
            }
            .to_string(),
            "permission denied: PF_KEY needs root or CAP_NET_ADMIN (EPERM)"
        );
        let e = Error::Open {
            source: io::Error::from_raw_os_error(libc::EPROTONOSUPPORT),
        };
        assert!(e.to_string().contains("protocol version 2"), "{e}");
    }

    #[test]
    fn timeout_says_how_long() {
        let e = Error::Timeout {
            op: Box::new(add_op()),
            waited: Duration::from_secs(5),
        };
        assert_eq!(
            e.to_string(),
            "add esp spi 0x1000 10.0.0.1 -> 10.0.0.2: no reply from the kernel within 5 s"
        );
        let e = Error::Timeout {
            op: Box::new(Operation::new(MsgType::Flush, SaType::Esp)),
            waited: Duration::from_millis(250),
        };
        assert_eq!(
            e.to_string(),
            "flush esp: no reply from the kernel within 250 ms"
        );
    }
}
