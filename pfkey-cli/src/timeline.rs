//! Phase marks, for measuring where `pfkey -f`'s time goes (`pfkey-bench timeline`,
//! tests/lab/README.md). Built with the `timeline` feature and run with `PFKEY_TIMELINE` in
//! the environment, each [`mark`] writes `pfkey-timeline LABEL NANOSECONDS`
//! (`CLOCK_MONOTONIC`, comparable between processes) to standard error. Without the
//! feature a mark is an empty function, so the ordinary build is unchanged.

/// Marks the end of a phase.
#[cfg(feature = "timeline")]
pub fn mark(label: &str) {
    use std::sync::OnceLock;
    static ON: OnceLock<bool> = OnceLock::new();
    if !*ON.get_or_init(|| std::env::var_os("PFKEY_TIMELINE").is_some()) {
        return;
    }
    if let Ok(t) = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) {
        let ns = i128::from(t.tv_sec()) * 1_000_000_000 + i128::from(t.tv_nsec());
        eprintln!("pfkey-timeline {label} {ns}");
    }
}

/// Marks the end of a phase (nothing: built without the `timeline` feature).
#[cfg(not(feature = "timeline"))]
#[inline(always)]
pub fn mark(_label: &str) {}
