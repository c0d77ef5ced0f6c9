//! Running programs (`ip`, `pfkey`) from a test and capturing what they print.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// The finished run of a command: status and captured output.
#[derive(Debug)]
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Run {
    /// Runs `cmd` to completion, capturing its output. Panics if it cannot be started.
    pub fn new(cmd: &mut Command) -> Run {
        let command = format!("{cmd:?}");
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
        Run {
            command,
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// True when the command exited with status 0.
    pub fn ok(&self) -> bool {
        self.status.success()
    }

    /// Panics with the command's output unless it succeeded; returns its standard output.
    pub fn expect_ok(self) -> String {
        assert!(
            self.ok(),
            "{} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            self.command,
            self.status,
            self.stdout,
            self.stderr
        );
        self.stdout
    }
}

/// Path of iproute2's `ip`: `$PFKEY_LAB_IP`, else the first of the usual locations.
pub fn ip_path() -> PathBuf {
    if let Some(p) = std::env::var_os("PFKEY_LAB_IP") {
        return p.into();
    }
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| "ip".into())
}

/// Runs `ip ARGS` in the calling thread's namespace and returns its standard output; panics
/// with the output if it fails.
pub fn ip(args: &[&str]) -> String {
    Run::new(Command::new(ip_path()).args(args)).expect_ok()
}

/// Path of the `pfkey` CLI: `$PFKEY_BIN` (set by the lab), else `pfkey` on `PATH`.
pub fn pfkey_path() -> PathBuf {
    std::env::var_os("PFKEY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new("pfkey").to_path_buf())
}

/// Runs the `pfkey` CLI with `args` in the calling thread's namespace.
pub fn pfkey(args: &[&str]) -> Run {
    Run::new(Command::new(pfkey_path()).args(args))
}

/// Makes `cmd` run as the unprivileged user nobody (uid and gid 65534, no supplementary
/// groups).
pub fn as_nobody(cmd: &mut Command) -> &mut Command {
    cmd.uid(65534).gid(65534)
}
