//! The floor: the least a PF_KEY tool can do. Raw syscalls and hand-laid bytes, no
//! codec, no parsing beyond the 16-byte header: N ADDs each waiting for its reply,
//! one DUMP drained without decoding, one FLUSH.
//!
//! Every byte below is laid out by hand from `linux/pfkeyv2.h` (x86-64, host order
//! little-endian except where noted), so this measures the kernel and the syscalls,
//! not our code.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::workload::{sa_addrs, AUTH_KEY, ENC_KEY};

/// Opens `socket(PF_KEY, SOCK_RAW, PF_KEY_V2)` with a large receive buffer.
pub fn open() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with constant arguments; the result is checked before
    // it is wrapped, and the OwnedFd takes sole ownership of the new descriptor.
    let fd = unsafe { libc::socket(libc::PF_KEY, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 2) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a freshly created descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let size: libc::c_int = 8 << 20;
    // SAFETY: fd is valid; optval points to a c_int of the given length.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    Ok(fd)
}

fn send(fd: &OwnedFd, msg: &[u8]) -> io::Result<()> {
    // SAFETY: msg is a valid readable slice for its length.
    let n = unsafe { libc::send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one datagram into `buf` (large enough for any reply here) and returns
/// its header fields (type, errno, seq).
fn recv(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<(u8, u8, u32)> {
    // SAFETY: buf is a valid writable slice for its length.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 16 {
        return Err(if n < 0 {
            io::Error::last_os_error()
        } else {
            io::Error::other("short PF_KEY message")
        });
    }
    let seq = u32::from_ne_bytes([buf[8], buf[9], buf[10], buf[11]]);
    Ok((buf[1], buf[2], seq))
}

fn header(out: &mut Vec<u8>, msg_type: u8, satype: u8, seq: u32, pid: u32) {
    out.clear();
    out.extend_from_slice(&[2, msg_type, 0, satype, 0, 0, 0, 0]);
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&pid.to_ne_bytes());
}

fn finish(out: &mut [u8]) {
    let words = (out.len() / 8) as u16;
    out[4..6].copy_from_slice(&words.to_ne_bytes());
}

fn address(out: &mut Vec<u8>, ext_type: u16, ip: [u8; 4]) {
    out.extend_from_slice(&3u16.to_ne_bytes());
    out.extend_from_slice(&ext_type.to_ne_bytes());
    out.extend_from_slice(&[0, 32, 0, 0]); // proto any(0), prefix 32, reserved
    out.extend_from_slice(&2u16.to_ne_bytes()); // AF_INET
    out.extend_from_slice(&[0, 0]); // port
    out.extend_from_slice(&ip);
    out.extend_from_slice(&[0; 8]);
}

fn key(out: &mut Vec<u8>, ext_type: u16, key: &[u8]) {
    let len = (8 + key.len()).div_ceil(8) * 8;
    out.extend_from_slice(&((len / 8) as u16).to_ne_bytes());
    out.extend_from_slice(&ext_type.to_ne_bytes());
    out.extend_from_slice(&((key.len() * 8) as u16).to_ne_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(key);
    out.resize(out.len() + len - 8 - key.len(), 0);
}

/// The ADD for SA `i`: ESP, AES-CBC-128 + HMAC-SHA1, transport.
fn add_message(out: &mut Vec<u8>, i: u32, seq: u32, pid: u32) {
    let (src, dst, spi) = sa_addrs(i);
    header(out, 3, 3, seq, pid);
    // SA: len 2, type 1, spi (big-endian), replay 0, state 0, auth 3, encrypt 12, flags 0.
    out.extend_from_slice(&[2, 0, 1, 0]);
    out.extend_from_slice(&spi.to_be_bytes());
    out.extend_from_slice(&[0, 0, 3, 12, 0, 0, 0, 0]);
    address(out, 5, src);
    address(out, 6, dst);
    key(out, 8, &AUTH_KEY);
    key(out, 9, &ENC_KEY);
    // SA2: len 2, type 19, mode transport (1), reqid 0.
    out.extend_from_slice(&[2, 0, 19, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    finish(out);
}

/// Adds `n` SAs, each waiting for its reply. Fails on the first error reply.
pub fn add(n: u32) -> io::Result<()> {
    crate::timeline::mark("start");
    let fd = open()?;
    crate::timeline::mark("socket");
    let pid = std::process::id();
    let mut msg = Vec::with_capacity(256);
    let mut buf = vec![0u8; 65536];
    for i in 0..n {
        let seq = i + 1;
        add_message(&mut msg, i, seq, pid);
        send(&fd, &msg)?;
        loop {
            let (t, errno, rseq) = recv(&fd, &mut buf)?;
            if t == 3 && rseq == seq {
                if errno != 0 {
                    return Err(io::Error::from_raw_os_error(i32::from(errno)));
                }
                break;
            }
        }
    }
    crate::timeline::mark("sent");
    drop(fd);
    crate::timeline::mark("end");
    Ok(())
}

/// Dumps every SA and drains the stream without decoding; returns the count.
pub fn dump() -> io::Result<u64> {
    let fd = open()?;
    let mut msg = Vec::with_capacity(16);
    header(&mut msg, 10, 0, 1, std::process::id());
    finish(&mut msg);
    send(&fd, &msg)?;
    let mut buf = vec![0u8; 65536];
    let mut count = 0;
    loop {
        let (t, errno, seq) = recv(&fd, &mut buf)?;
        if t != 10 {
            continue;
        }
        if errno == libc::ENOENT as u8 {
            return Ok(0);
        }
        count += 1;
        if seq == 0 {
            return Ok(count);
        }
    }
}

/// Flushes every SA (consumes the echo; the broadcast copy dies with the socket).
pub fn flush() -> io::Result<()> {
    let fd = open()?;
    let mut msg = Vec::with_capacity(16);
    header(&mut msg, 9, 0, 1, std::process::id());
    finish(&mut msg);
    send(&fd, &msg)?;
    let mut buf = vec![0u8; 4096];
    loop {
        let (t, errno, _) = recv(&fd, &mut buf)?;
        if t == 9 {
            if errno != 0 {
                return Err(io::Error::from_raw_os_error(i32::from(errno)));
            }
            return Ok(());
        }
    }
}
