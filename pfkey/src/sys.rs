//! The two system calls `nix` cannot express, and the crate's only `unsafe` code.
//!
//! - [`pfkey_socket`]: `socket(PF_KEY, SOCK_RAW | SOCK_CLOEXEC, PF_KEY_V2)`. nix's
//!   `SockProtocol` is a closed enum without protocol 2, and af_key's `pfkey_create`
//!   rejects any other protocol with `EPROTONOSUPPORT`.
//! - [`setsockopt_bytes`]: `setsockopt` with an arbitrary byte blob, for the per-socket
//!   policy options `IP_IPSEC_POLICY` / `IPV6_IPSEC_POLICY` (a bare `sadb_x_policy`, see
//!   [`crate::policy::Policy::to_bytes`]) and `IP_XFRM_POLICY` / `IPV6_XFRM_POLICY`,
//!   whose values nix has no type for.
//!
//! Everything else (send, receive, poll, ordinary socket options) goes through nix.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::wire::{AF_KEY, PF_KEY_V2};

/// Opens a PF_KEY v2 socket: `socket(PF_KEY, SOCK_RAW | SOCK_CLOEXEC, PF_KEY_V2)`
/// (RFC 2367 §1.4; Linux `net/key/af_key.c` `pfkey_create`).
///
/// Errors are the raw OS errors; af_key checks, in order: `CAP_NET_ADMIN` in the
/// network namespace's user namespace (`EPERM`), `SOCK_RAW` (`ESOCKTNOSUPPORT`),
/// protocol 2 (`EPROTONOSUPPORT`); a kernel without af_key gives `EAFNOSUPPORT`.
/// [`crate::socket::PfKeySocket::open`] turns these into words.
pub fn pfkey_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes three integers and touches no memory of ours; it has
    // no preconditions beyond valid integer arguments.
    let fd = unsafe {
        libc::socket(
            AF_KEY,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::c_int::from(PF_KEY_V2),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is non-negative, so it is a descriptor the kernel has just created
    // for this call; nothing else in the process knows it, so `OwnedFd` becomes its
    // sole owner and closes it exactly once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `setsockopt(fd, level, name, value, len)` with a byte blob; `None` passes a null
/// pointer and length 0 (for `IP_IPSEC_POLICY` this removes the socket's policies,
/// af_key/xfrm `xfrm_user_policy`).
///
/// Fails with `EINVAL` (as an [`io::Error`]) without calling the kernel if the blob is
/// longer than `socklen_t` can express.
pub fn setsockopt_bytes(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: Option<&[u8]>,
) -> io::Result<()> {
    let (ptr, len): (*const libc::c_void, libc::socklen_t) = match value {
        Some(v) => (
            v.as_ptr().cast(),
            libc::socklen_t::try_from(v.len())
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
        ),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: `fd` is an open descriptor for the duration of the call (BorrowedFd's
    // invariant). `ptr` is either null with `len == 0`, or points to `len` initialised
    // bytes borrowed from `value`, which outlives the call; the kernel only reads
    // them (copy_from_sockptr) and keeps no reference after returning.
    let rc = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, ptr, len) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn setsockopt_bytes_sets_an_int_option() {
        // SO_RCVBUF on a UDP socket: the kernel doubles the value it stores.
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let v: libc::c_int = 65536;
        setsockopt_bytes(
            s.as_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            Some(&v.to_ne_bytes()),
        )
        .unwrap();
        let got = nix::sys::socket::getsockopt(&s, nix::sys::socket::sockopt::RcvBuf).unwrap();
        assert_eq!(got, 2 * 65536);
    }

    #[test]
    fn setsockopt_bytes_reports_os_errors() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // A 1-byte value for an int option is rejected by the kernel with EINVAL.
        let e =
            setsockopt_bytes(s.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, Some(&[1])).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn pfkey_socket_fails_with_an_os_error_or_opens() {
        // On hosts without af_key this is EAFNOSUPPORT; with af_key but without
        // CAP_NET_ADMIN, EPERM; with both, a socket. Any other result is a bug.
        match pfkey_socket() {
            Ok(fd) => assert!(fd.as_raw_fd() >= 0),
            Err(e) => assert!(
                matches!(
                    e.raw_os_error(),
                    Some(libc::EAFNOSUPPORT) | Some(libc::EPERM)
                ),
                "unexpected error {e}"
            ),
        }
    }
}
