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
//! See `examples/README.md` for a walkthrough.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use pfkey::sockpolicy;
use socket2::{Domain, Socket, Type};

const USAGE: &str = "usage: tcp_client ADDR:PORT [--message TEXT] [--timeout SECS] [policy options]

  --message TEXT     what to send (default: \"hello over ESP\")
  --timeout SECS     give up connecting or reading after this long (default 10)";

struct Args {
    server: SocketAddr,
    message: String,
    timeout: Duration,
    policy: common::PolicyOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut server = None;
    let mut message = "hello over ESP".to_string();
    let mut timeout = Duration::from_secs(10);
    let mut policy = common::PolicyOptions::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if policy.take(&arg, &mut it)? {
            continue;
        }
        match arg.as_str() {
            "--message" => message = it.next().ok_or("--message needs TEXT")?,
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
    let sock = match Socket::new(Domain::for_address(args.server), Type::STREAM, None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tcp_client: cannot create a socket: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The policy first: the SYN is the first packet that needs it.
    if let Some(p) = &policy {
        if let Err(e) = sockpolicy::apply_both(&sock, p, args.policy.encoding) {
            return common::apply_failure("tcp_client", &e);
        }
    }
    eprintln!(
        "tcp_client: connecting to {}, {}",
        args.server,
        args.policy.describe()
    );
    if let Err(e) = sock.connect_timeout(&args.server.into(), args.timeout) {
        let hint = if policy.is_some() && e.kind() == std::io::ErrorKind::TimedOut {
            " (with an IPsec policy and no SA the kernel drops the packets until a key \
             manager installs one: is one running, or are the SAs there?)"
        } else {
            ""
        };
        eprintln!(
            "tcp_client: connecting to {} failed: {e}{hint}",
            args.server
        );
        return ExitCode::FAILURE;
    }
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

/// Sends `msg`, closes the sending side, and reads the reply to its end.
fn exchange(stream: &mut TcpStream, msg: &[u8], timeout: Duration) -> std::io::Result<Vec<u8>> {
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(msg)?;
    stream.shutdown(Shutdown::Write)?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    Ok(reply)
}
