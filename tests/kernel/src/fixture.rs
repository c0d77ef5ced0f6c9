//! Capturing real kernel messages as fixtures.
//!
//! A test hands a message the kernel sent to [`capture_fixture`]. When the lab asked for
//! fixtures (`PFKEY_LAB_FIXTURE_DIR` is set: always in the guest, and natively), the bytes go to
//! `<dir>/<name>.bin` and a one-line note of what produced them to `<dir>/<name>.note`. The
//! guest's `/init` prints them on the console as `@@FIXTURE` markers; `tests/lab/vm capture`
//! writes them to `fixtures/` with provenance.

use std::path::PathBuf;

/// Records `msg` as fixture `name` (letters, digits, `.`, `_`, `-`), with `produced_by`
/// describing the request that made the kernel send it. Does nothing outside the lab.
pub fn capture_fixture(name: &str, msg: &[u8], produced_by: &str) {
    assert!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
        "bad fixture name {name:?}"
    );
    let Some(dir) = std::env::var_os("PFKEY_LAB_FIXTURE_DIR").map(PathBuf::from) else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let bin = dir.join(format!("{name}.bin"));
    std::fs::write(&bin, msg).unwrap_or_else(|e| panic!("write {}: {e}", bin.display()));
    let note = dir.join(format!("{name}.note"));
    std::fs::write(&note, produced_by.replace('\n', " "))
        .unwrap_or_else(|e| panic!("write {}: {e}", note.display()));
}
