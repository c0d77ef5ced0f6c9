//! A TCP echo server whose listening socket requires ESP: the Linux/Rust version of
//! the classic Solaris `setsockopt(IP_SEC_OPT, ipsec_req_t)` server.
//!
//! ```text
//! tcp_server [--listen ADDR:PORT] [--once] [--policy …] [--encoding …] [--algorithms …]
//! ```
//!
//! The policy goes on the listening socket before `listen()`; every accepted
//! connection inherits it (Linux `sk_clone_lock` → `xfrm_sk_clone_policy`), so the
//! whole connection, SYN included, needs ESP SAs between the two hosts. Without them
//! the kernel drops the packets (and asks a registered key manager for SAs, see
//! `keymgr.rs`). Setting the policy needs `CAP_NET_ADMIN` (exit status 77 without).
//!
//! Each connection's data is echoed back until the client closes its side. The first
//! line on standard output says where the server listens, so scripts can wait for it.
//! See `examples/README.md` for a walkthrough.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use pfkey::sockpolicy;
use socket2::{Domain, Socket, Type};

const USAGE: &str = "usage: tcp_server [--listen ADDR:PORT] [--once] [policy options]

  --listen ADDR:PORT address to listen on (default 0.0.0.0:7000; [::]:7000 for IPv6)
  --once             serve one connection, then exit";

struct Args {
    listen: SocketAddr,
    once: bool,
    policy: common::PolicyOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([0, 0, 0, 0], 7000)),
        once: false,
        policy: common::PolicyOptions::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if args.policy.take(&arg, &mut it)? {
            continue;
        }
        match arg.as_str() {
            "--listen" => {
                let v = it.next().ok_or("--listen needs ADDR:PORT")?;
                args.listen = v
                    .parse()
                    .map_err(|_| format!("--listen '{v}' is not ADDR:PORT"))?;
            }
            "--once" => args.once = true,
            "-h" | "--help" => {
                println!("{USAGE}\n{}", common::POLICY_HELP);
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tcp_server: {e}");
            return ExitCode::from(2);
        }
    };
    let policy = match args.policy.policy() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tcp_server: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(w) = args.policy.warning() {
        eprintln!("tcp_server: {w}");
    }
    let sock = match Socket::new(Domain::for_address(args.listen), Type::STREAM, None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tcp_server: cannot create a socket: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The policy first: before listen(), so that no connection is ever accepted
    // without it.
    if let Some(p) = &policy {
        if let Err(e) = sockpolicy::apply_both(&sock, p, args.policy.encoding) {
            return common::apply_failure("tcp_server", &e);
        }
    }
    let listener: TcpListener = match sock
        .set_reuse_address(true)
        .and_then(|()| sock.bind(&args.listen.into()))
        .and_then(|()| sock.listen(16))
    {
        Ok(()) => sock.into(),
        Err(e) => {
            eprintln!("tcp_server: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().unwrap_or(args.listen);
    println!("listening on {local}, {}", args.policy.describe());
    let _ = std::io::stdout().flush();
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                if let Err(e) = serve(stream) {
                    eprintln!("tcp_server: {e}");
                }
            }
            Err(e) => eprintln!("tcp_server: accept failed: {e}"),
        }
        if args.once {
            break;
        }
    }
    ExitCode::SUCCESS
}

/// Echoes everything the client sends until it closes its side.
fn serve(mut stream: TcpStream) -> Result<(), String> {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| format!("{peer}: {e}"))?;
    let mut data = Vec::new();
    stream
        .read_to_end(&mut data)
        .map_err(|e| format!("reading from {peer}: {e}"))?;
    println!(
        "{peer}: received {} bytes: {}",
        data.len(),
        String::from_utf8_lossy(&data)
    );
    let _ = std::io::stdout().flush();
    stream
        .write_all(&data)
        .map_err(|e| format!("writing to {peer}: {e}"))
}
