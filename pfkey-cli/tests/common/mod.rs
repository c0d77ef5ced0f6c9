//! Running the `pfkey` binary from the CLI's integration tests.
#![allow(dead_code)] // each test crate uses its own subset

use std::io::Write;
use std::process::{Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;

/// The `pfkey` binary of this build.
pub fn pfkey() -> Command {
    Command::cargo_bin("pfkey").expect("the pfkey binary is built")
}

/// What one run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    /// The exit status.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `pfkey ARGS` with `stdin` as standard input.
pub fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = pfkey()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pfkey");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for pfkey");
    writer.join().expect("stdin writer");
    Run {
        code: out.status.code().expect("exit code, not a signal"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}
