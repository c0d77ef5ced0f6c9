//! `pfkey-bench timeline`: where `pfkey -f`'s time goes, phase by phase, against the floor's.
//!
//! A `pfkey` built with its `timeline` feature, and the floor here, write
//! `pfkey-timeline LABEL NANOSECONDS` (`CLOCK_MONOTONIC`) to standard error at the end of each
//! phase when `PFKEY_TIMELINE` is set. This command reads the clock just before it starts a
//! program and just after the program has been reaped, so the first phase is the process's
//! start-up (to its first mark) and the last is everything after its last mark (exit, and
//! the kernel closing its files: af_key's release waits for an RCU grace period). Each
//! program runs interleaved with the floor, on an empty SAD and a quiet kernel; the table
//! gives each phase's median over the runs.

use std::process::{Command, Stdio};

/// What the programs look for in the environment.
pub const ENV: &str = "PFKEY_TIMELINE";

/// The clock the marks use.
pub fn now_ns() -> i128 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| i128::from(t.tv_sec()) * 1_000_000_000 + i128::from(t.tv_nsec()))
        .unwrap_or(0)
}

/// Marks the end of a phase of the floor (when [`ENV`] is set).
pub fn mark(label: &str) {
    if std::env::var_os(ENV).is_some() {
        eprintln!("pfkey-timeline {label} {}", now_ns());
    }
}

/// The phases of one run: each mark's label with the nanoseconds since the mark (or the
/// start) before it, then `exit` up to `reaped`. Lines that are not marks are skipped.
pub fn phases(spawned: i128, stderr: &str, reaped: i128) -> Vec<(String, i128)> {
    let mut out = Vec::new();
    let mut prev = spawned;
    for line in stderr.lines() {
        let mut w = line.split_whitespace();
        let (Some("pfkey-timeline"), Some(label), Some(t), None) =
            (w.next(), w.next(), w.next(), w.next())
        else {
            continue;
        };
        let Ok(t) = t.parse::<i128>() else { continue };
        out.push((label.to_string(), t - prev));
        prev = t;
    }
    out.push(("exit".to_string(), reaped - prev));
    out
}

/// Runs `cmd` with [`ENV`] set; its phases.
pub fn run(cmd: &[&str]) -> Result<Vec<(String, i128)>, String> {
    let mut c = Command::new(cmd[0]);
    c.args(&cmd[1..])
        .env(ENV, "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let spawned = now_ns();
    let out = c.output().map_err(|e| format!("{}: {e}", cmd[0]))?;
    let reaped = now_ns();
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(phases(
        spawned,
        &String::from_utf8_lossy(&out.stderr),
        reaped,
    ))
}

/// Per phase (in the order first seen), the median in milliseconds over `runs`, and in
/// how many runs it occurred; the last row is the median total.
pub fn summary(runs: &[Vec<(String, i128)>]) -> Vec<(String, f64, usize)> {
    let mut labels: Vec<&str> = Vec::new();
    for r in runs {
        for (l, _) in r {
            if !labels.contains(&l.as_str()) {
                labels.push(l);
            }
        }
    }
    let median = |mut v: Vec<i128>| -> f64 {
        v.sort_unstable();
        v.get(v.len() / 2).map_or(0.0, |&x| x as f64 / 1e6)
    };
    let mut rows: Vec<(String, f64, usize)> = labels
        .iter()
        .map(|&l| {
            let v: Vec<i128> = runs
                .iter()
                .flat_map(|r| r.iter().filter(|(x, _)| x == l).map(|(_, d)| *d))
                .collect();
            let n = v.len();
            (l.to_string(), median(v), n)
        })
        .collect();
    let totals = runs
        .iter()
        .map(|r| r.iter().map(|(_, d)| d).sum())
        .collect();
    rows.push(("total".to_string(), median(totals), runs.len()));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_run_from_the_spawn_through_each_mark_to_the_reaping() {
        let err = "pfkey-timeline start 1005\nnoise\npfkey-timeline args 1010\n\
                   pfkey-timeline bad x\npfkey-timeline sent 1110\n";
        let p = phases(1000, err, 1200);
        let want: Vec<(String, i128)> = [("start", 5), ("args", 5), ("sent", 100), ("exit", 90)]
            .iter()
            .map(|&(l, d)| (l.to_string(), d))
            .collect();
        assert_eq!(p, want);
        assert_eq!(phases(7, "", 9), vec![("exit".to_string(), 2)]);
    }

    #[test]
    fn the_summary_takes_medians_per_phase_in_first_seen_order() {
        let run = |v: &[(&str, i128)]| -> Vec<(String, i128)> {
            v.iter().map(|&(l, d)| (l.to_string(), d)).collect()
        };
        let runs = vec![
            run(&[
                ("start", 1_000_000),
                ("sent", 10_000_000),
                ("exit", 2_000_000),
            ]),
            run(&[
                ("start", 3_000_000),
                ("first-batch", 1_000_000),
                ("sent", 30_000_000),
                ("exit", 2_000_000),
            ]),
            run(&[
                ("start", 2_000_000),
                ("sent", 20_000_000),
                ("exit", 4_000_000),
            ]),
        ];
        let s = summary(&runs);
        let labels: Vec<&str> = s.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(labels, ["start", "sent", "exit", "first-batch", "total"]);
        assert_eq!((s[0].1, s[0].2), (2.0, 3));
        assert_eq!((s[1].1, s[1].2), (20.0, 3));
        assert_eq!((s[3].1, s[3].2), (1.0, 1));
        assert_eq!((s[4].1, s[4].2), (26.0, 3));
    }
}
