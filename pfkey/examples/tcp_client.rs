//! A TCP client that requires ESP on its own socket before `connect()`: the
//! counterpart of `tcp_server.rs`.
//!
//! ```text
//! tcp_client ADDR:PORT [--message TEXT] [--timeout SECS] [--policy …] [--encoding …] [--algorithms …]
//! ```
//!
//! The policy goes on the socket before `connect()`, so the SYN already needs an
//! outbound ESP SA: std's `TcpStream::connect` connects at once, which is why the
//! socket is made with `socket2` first. The program sends the message, closes its
//! sending side, prints the server's echo on standard output, and exits 0 when the
//! echo matches. Setting the policy needs `CAP_NET_ADMIN` (exit status 77 without).
//!
//! Without an SA, Linux fails the connect at once (`EAGAIN`) and sends an ACQUIRE to
//! the registered key managers; `--retries N` tries again a second later, by when a
//! key manager such as `keymgr.rs` has installed the SAs. See `examples/README.md`
//! for a walkthrough.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use pfkey::sockpolicy::{self, Encoding, SocketPolicy};
use socket2::{Domain, Socket, Type};

const USAGE: &str = "usage: tcp_client ADDR:PORT [--message TEXT] [--timeout SECS] [policy options]

  --message TEXT     what to send (default: \"hello over ESP\")
  --timeout SECS     give up connecting or reading after this long (default 10)
  --retries N        if connecting fails for want of an SA (EAGAIN) or times out,
                     try again up to N times, a second apart
                     (default 0; with a per-socket policy and no SA yet Linux fails
                     the connect at once, and a key manager needs a moment)";

struct Args {
    server: SocketAddr,
    message: String,
    timeout: Duration,
    retries: u32,
    policy: common::PolicyOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut server = None;
    let mut message = "hello over ESP".to_string();
    let mut timeout = Duration::from_secs(10);
    let mut retries = 0;
    let mut policy = common::PolicyOptions::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if policy.take(&arg, &mut it)? {
            continue;
        }
        match arg.as_str() {
            "--message" => message = it.next().ok_or("--message needs TEXT")?,
            "--retries" => {
                let v = it.next().ok_or("--retries needs N")?;
                retries = v
                    .parse()
                    .map_err(|_| format!("--retries '{v}' is not a whole number"))?;
            }
            "--timeout" => {
                let v = it.next().ok_or("--timeout needs SECS")?;
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or(format!(
                        "--timeout '{v}' is not a positive number of seconds"
                    ))?;
                timeout = Duration::from_secs_f64(secs);
            }
            "-h" | "--help" => {
                println!("{USAGE}\n{}", common::POLICY_HELP);
                std::process::exit(0);
            }
            a if !a.starts_with('-') && server.is_none() => {
                server = Some(
                    a.parse()
                        .map_err(|_| format!("'{a}' is not ADDR:PORT (e.g. 10.0.0.2:7000)"))?,
                );
            }
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    Ok(Args {
        server: server.ok_or(format!("which server? give ADDR:PORT\n{USAGE}"))?,
        message,
        timeout,
        retries,
        policy,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tcp_client: {e}");
            return ExitCode::from(2);
        }
    };
    let policy = match args.policy.policy() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tcp_client: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(w) = args.policy.warning() {
        eprintln!("tcp_client: {w}");
    }
    eprintln!(
        "tcp_client: connecting to {}, {}",
        args.server,
        args.policy.describe()
    );
    let mut attempt = 0;
    let sock = loop {
        match connect(&args, policy.as_ref()) {
            Ok(s) => break s,
            Err(Failure::Policy(e)) => return common::apply_failure("tcp_client", &e),
            // EAGAIN: no SA yet; a timeout: the SA may come.
            Err(Failure::Connect(e))
                if attempt < args.retries
                    && (e.raw_os_error() == Some(libc::EAGAIN)
                        || e.kind() == std::io::ErrorKind::TimedOut) =>
            {
                attempt += 1;
                eprintln!(
                    "tcp_client: connecting failed: {e}; retrying ({attempt}/{})",
                    args.retries
                );
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(Failure::Connect(e)) => {
                let ipsec = matches!(policy, Some(SocketPolicy::Ipsec(_)));
                let hint = match e.raw_os_error() {
                    Some(libc::EAGAIN) if ipsec => {
                        " (no SA yet: Linux fails a connect through a per-socket policy at \
                         once and asks the key managers for SAs; is one running? --retries \
                         gives it time to answer)"
                    }
                    Some(libc::EINVAL) if ipsec && args.policy.encoding == Encoding::PfKey => {
                        " (Linux cannot send through IPsec policies set with IP_IPSEC_POLICY \
                         once their SAs exist; use --encoding xfrm)"
                    }
                    _ => "",
                };
                eprintln!(
                    "tcp_client: connecting to {} failed: {e}{hint}",
                    args.server
                );
                return ExitCode::FAILURE;
            }
        }
    };
    let mut stream: TcpStream = sock.into();
    match exchange(&mut stream, args.message.as_bytes(), args.timeout) {
        Ok(reply) => {
            println!("{}", String::from_utf8_lossy(&reply));
            if reply == args.message.as_bytes() {
                ExitCode::SUCCESS
            } else {
                eprintln!("tcp_client: the echo differs from what was sent");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("tcp_client: {}: {e}", args.server);
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Policy(pfkey::sockpolicy::ApplyError),
    Connect(std::io::Error),
}

/// A new socket with the policy set, connected (blocking, bounded by `--timeout`
/// through `SO_SNDTIMEO`, so that the kernel's own error comes back).
fn connect(args: &Args, policy: Option<&SocketPolicy>) -> Result<Socket, Failure> {
    let sock = Socket::new(Domain::for_address(args.server), Type::STREAM, None)
        .map_err(Failure::Connect)?;
    // The policy first: the SYN is the first packet that needs it.
    if let Some(p) = policy {
        sockpolicy::apply_both(&sock, p, args.policy.encoding).map_err(Failure::Policy)?;
    }
    sock.set_write_timeout(Some(args.timeout))
        .map_err(Failure::Connect)?;
    match sock.connect(&args.server.into()) {
        Ok(()) => Ok(sock),
        // A blocking connect that runs into SO_SNDTIMEO reports EINPROGRESS.
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Err(Failure::Connect(
            std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"),
        )),
        Err(e) => Err(Failure::Connect(e)),
    }
}

/// Sends `msg`, closes the sending side, and reads the reply to its end.
fn exchange(stream: &mut TcpStream, msg: &[u8], timeout: Duration) -> std::io::Result<Vec<u8>> {
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(msg)?;
    stream.shutdown(Shutdown::Write)?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    Ok(reply)
}
