//! `pfkey save [FILE]`: the whole SAD and SPD as a setkey-language script that `pfkey -f`
//! loads into an empty state to recreate it ([`crate::setkey::format::save_script`]).
//!
//! Both tables are read completely before anything is written, so a dump that fails half-way
//! (a timeout, or the kernel's abort on an entry PF_KEY cannot express) writes no file at
//! all, rather than a partial one that would reload to a different state.
//!
//! The script holds the keys. A FILE is therefore written as a new file created with
//! `O_EXCL` and mode 0600 next to the target, filled, synced, and renamed over it: at no
//! moment does a file with keys exist with wider permissions, and a reader of FILE sees the
//! old or the new contents, never a mix. Standard output gets the text with one `write(2)`
//! loop, bypassing the standard library's buffers (which are not wiped).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use pfkey::client::{Client, FromMessage};
use pfkey::message::Message;
use pfkey::transport::Transport;
use pfkey::wire::{MsgType, SaType};
use zeroize::Zeroizing;

use crate::cli::SaveArgs;
use crate::exit::{Exit, Failure};
use crate::output::Output;
use crate::setkey::format::{save_script, SaveOptions};

/// The permissions of a saved script: owner read and write only.
pub const SAVE_MODE: u32 = 0o600;

/// A dump entry kept as bytes, wiped on drop.
struct Raw(Zeroizing<Vec<u8>>);

impl FromMessage for Raw {
    fn from_message(m: &Message<'_>) -> Result<Self, pfkey::wire::ExtType> {
        Ok(Raw(Zeroizing::new(m.as_bytes().to_vec())))
    }
}

/// Runs `pfkey save`.
pub fn run(args: &SaveArgs, out: &mut Output) -> Result<(), Failure> {
    let target = args.file.as_deref().filter(|p| p.as_os_str() != "-");
    if let Some(p) = target {
        // Refuse before touching the kernel when the file cannot be written where asked.
        check_target(p).map_err(|m| Failure::new(Exit::Io, m))?;
    }
    // -v traces the dumps (keys hidden).
    let mut client = (super::script::open_client(out, false))()?;
    let text = script(&mut client, args)?;
    match target {
        None => {
            out.flush().map_err(Failure::stdout)?;
            write_fd(&io::stdout(), text.as_bytes()).map_err(Failure::stdout)
        }
        Some(p) => write_private(p, text.as_bytes())
            .map_err(|e| Failure::new(Exit::Io, format!("{}: cannot write: {e}", p.display()))),
    }
}

/// Dumps both tables and writes them as a script (holding keys unless `--redact`).
fn script<T: Transport>(
    client: &mut Client<T>,
    args: &SaveArgs,
) -> Result<Zeroizing<String>, Failure> {
    let sas = dump_all(client, MsgType::Dump)?;
    let policies = dump_all(client, MsgType::XSpdDump)?;
    let sa_msgs = sas.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
    let pol_msgs = policies.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
    Ok(save_script(
        &sa_msgs,
        &pol_msgs,
        &SaveOptions {
            redact: args.redact,
            fwd_copy: !args.kernel_mode,
        },
    ))
}

fn parse(r: &Raw) -> Result<Message<'_>, Failure> {
    Message::parse(&r.0)
        .map_err(|e| Failure::new(Exit::Internal, format!("a dump entry does not parse: {e}")))
}

/// Every entry of a dump, or the error that ended it early.
fn dump_all<T: Transport>(client: &mut Client<T>, t: MsgType) -> Result<Vec<Raw>, Failure> {
    let dump = client.dump_as::<Raw>(t, SaType::Unspec, None)?;
    let mut all = Vec::new();
    for entry in dump {
        all.push(entry.map_err(|e| {
            let Failure::Error { exit, message } = Failure::from(e) else {
                return Failure::new(Exit::Internal, "dump failed");
            };
            Failure::new(exit, format!("{message}; nothing was saved"))
        })?);
    }
    Ok(all)
}

/// The directory a file is created in and its name, or why not.
fn split_target(path: &Path) -> Result<(PathBuf, OsString), String> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name.to_os_string()))
}

fn check_target(path: &Path) -> Result<(), String> {
    let (dir, _) = split_target(path)?;
    match fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("{}: not a directory", dir.display())),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    }
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(format!("{}: is a directory", path.display())),
        _ => Ok(()),
    }
}

/// Writes `data` to `path` atomically as a file only its owner can read: a new temporary
/// file in the same directory (`O_CREAT | O_EXCL`, mode 0600, never following a symbolic
/// link), synced, then renamed over `path`, and the directory synced. On failure the
/// temporary file is removed and `path` is untouched.
pub fn write_private(path: &Path, data: &[u8]) -> io::Result<()> {
    let (dir, name) = split_target(path).map_err(io::Error::other)?;
    let mut attempt = 0u32;
    let (tmp, mut file) = loop {
        let mut tmp_name = OsString::from(".");
        tmp_name.push(&name);
        tmp_name.push(format!(".pfkey-save.{}.{attempt}", std::process::id()));
        let tmp = dir.join(tmp_name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(SAVE_MODE)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let written = fill(&mut file, data);
    if let Err(e) = written {
        drop(file);
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    drop(file);
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // Make the rename itself durable.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Sets the exact mode (a umask can only have narrowed it), writes and syncs.
fn fill(file: &mut File, data: &[u8]) -> io::Result<()> {
    file.set_permissions(Permissions::from_mode(SAVE_MODE))?;
    file.write_all(data)?;
    file.sync_all()
}

/// `write(2)` until everything is written, on a descriptor whose buffers are not ours.
fn write_fd(fd: &impl std::os::fd::AsFd, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".pfkey-save."))
            .collect()
    }

    #[test]
    fn a_new_file_is_private() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sa.conf");
        write_private(&p, b"add ... ;\n").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"add ... ;\n");
        assert_eq!(mode(&p), 0o600);
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn a_world_readable_file_is_replaced_by_a_private_one() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sa.conf");
        fs::write(&p, b"old").unwrap();
        fs::set_permissions(&p, Permissions::from_mode(0o644)).unwrap();
        let before = fs::metadata(&p).unwrap().ino();
        write_private(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(mode(&p), 0o600);
        // A new file was renamed over the old one (the old one was never rewritten in place).
        assert_ne!(fs::metadata(&p).unwrap().ino(), before);
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn a_symbolic_link_is_replaced_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let elsewhere = d.path().join("elsewhere");
        fs::write(&elsewhere, b"keep").unwrap();
        let p = d.path().join("sa.conf");
        std::os::unix::fs::symlink(&elsewhere, &p).unwrap();
        write_private(&p, b"new").unwrap();
        assert_eq!(fs::read(&elsewhere).unwrap(), b"keep");
        assert!(fs::symlink_metadata(&p).unwrap().is_file());
        assert_eq!(mode(&p), 0o600);
    }

    #[test]
    fn an_existing_temporary_name_is_not_reused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sa.conf");
        let squatter = d
            .path()
            .join(format!(".sa.conf.pfkey-save.{}.0", std::process::id()));
        fs::write(&squatter, b"someone else's").unwrap();
        write_private(&p, b"new").unwrap();
        assert_eq!(fs::read(&squatter).unwrap(), b"someone else's");
        assert_eq!(fs::read(&p).unwrap(), b"new");
    }

    #[test]
    fn failures_leave_nothing_behind() {
        let d = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails, the temporary file goes.
        let target = d.path().join("dir");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), b"x").unwrap();
        assert!(write_private(&target, b"data").is_err());
        assert!(leftovers(d.path()).is_empty());
        assert!(check_target(&target)
            .unwrap_err()
            .contains("is a directory"));
        // A missing directory.
        let missing = d.path().join("no/such/dir/sa.conf");
        assert!(write_private(&missing, b"data").is_err());
        assert!(check_target(&missing).is_err());
        assert!(split_target(Path::new("/")).is_err());
    }

    #[test]
    fn a_bare_name_goes_to_the_current_directory() {
        let (dir, name) = split_target(Path::new("sa.conf")).unwrap();
        assert_eq!((dir, name), (PathBuf::from("."), OsString::from("sa.conf")));
    }
}
