//! `pfkey-bench`: the PF_KEY floor, the `pfkey` CLI and iproute2, side by side, in
//! one boot of the kernel lab (`tests/lab/vm bench`).
//!
//! Absolute times under emulation mean little; ratios between tools measured in the
//! same boot are the result. Every measured command runs as its own process under a
//! small wrapper (`pfkey-bench measure`) that reports its wall time and peak RSS.
//!
//! ```text
//! pfkey-bench run [--sizes 1000,10000] [--reps 3] [--latency 20] [--dir /tmp/bench]
//! pfkey-bench ab [--sizes 1000] [--reps 20] [--dir /tmp/bench] PFKEY-BINARY…
//! pfkey-bench timeline [--sizes 1000] [--reps 10] [--dir /tmp/bench] PFKEY-BINARY…
//! pfkey-bench floor-add N | floor-dump | floor-flush | lib-add N | lib-dump
//! pfkey-bench measure [--stdout FILE] [--stdin FILE] -- CMD ARGS…
//! ```

mod floor;
mod timeline;
mod workload;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("ab") => ab(&args[1..]),
        Some("timeline") => timeline_cmd(&args[1..]),
        Some("floor-add") => {
            arg_n(&args).and_then(|n| floor::add(n).map_err(|e| format!("floor add: {e}")))
        }
        Some("floor-dump") => floor::dump()
            .map(|n| println!("{n}"))
            .map_err(|e| format!("floor dump: {e}")),
        Some("floor-flush") => floor::flush().map_err(|e| format!("floor flush: {e}")),
        Some("lib-dump") => lib_dump(),
        Some("lib-add") => arg_n(&args).and_then(lib_add),
        Some("measure") => measure(&args[1..]),
        _ => Err(
            "usage: pfkey-bench run|ab|timeline|floor-add N|floor-dump|floor-flush|lib-add N|lib-dump|measure"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pfkey-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn arg_n(args: &[String]) -> Result<u32, String> {
    args.get(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "expected a count".to_string())
}

/// The library's own dump iterator, without formatting: counts the SAs.
fn lib_dump() -> Result<(), String> {
    let mut c = pfkey::Client::open().map_err(|e| e.to_string())?;
    let mut n = 0u64;
    for sa in c
        .dump(pfkey::wire::SaType::Unspec)
        .map_err(|e| e.to_string())?
    {
        sa.map_err(|e| e.to_string())?;
        n += 1;
    }
    println!("{n}");
    Ok(())
}

/// The library's own client, without the CLI: N [`pfkey::Client::add_as`] calls with the
/// workload's SAs, each reply only acknowledged (what an IKE daemon pays per SA on top of
/// the floor).
fn lib_add(n: u32) -> Result<(), String> {
    use pfkey::client::{AlgKey, SaSpec};
    use pfkey::repr::Key;
    let mut c = pfkey::Client::open().map_err(|e| e.to_string())?;
    for i in 0..n {
        let (src, dst, spi) = workload::sa_addrs(i);
        let mut sa = SaSpec::new(pfkey::wire::SaType::Esp, spi, src.into(), dst.into());
        sa.mode = pfkey::wire::Mode::Transport;
        let key = |k: &[u8]| Key::new(k.to_vec()).map_err(|e| e.to_string());
        sa.auth = Some(AlgKey {
            id: 3,
            key: key(&workload::AUTH_KEY)?,
        });
        sa.enc = Some(AlgKey {
            id: 12,
            key: key(&workload::ENC_KEY)?,
        });
        c.add_as::<()>(&sa).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs a command, then prints `<wall ns> <peak RSS KiB>` of it. It is this
/// process's only child, so `RUSAGE_CHILDREN`'s `ru_maxrss` is the child's own peak.
fn measure(args: &[String]) -> Result<(), String> {
    let mut stdout: Option<&str> = None;
    let mut stdin: Option<&str> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--stdout" => stdout = args.get(i + 1).map(String::as_str),
            "--stdin" => stdin = args.get(i + 1).map(String::as_str),
            "--" => break,
            a => return Err(format!("measure: unexpected {a}")),
        }
        i += 2;
    }
    let cmd = args
        .get(i + 1..)
        .filter(|c| !c.is_empty())
        .ok_or("measure: no command")?;
    let mut c = Command::new(&cmd[0]);
    c.args(&cmd[1..]);
    c.stdout(match stdout {
        Some(p) => Stdio::from(File::create(p).map_err(|e| format!("{p}: {e}"))?),
        None => Stdio::null(),
    });
    if let Some(p) = stdin {
        c.stdin(Stdio::from(File::open(p).map_err(|e| format!("{p}: {e}"))?));
    }
    let t = Instant::now();
    let status = c.status().map_err(|e| format!("{}: {e}", cmd[0]))?;
    let wall = t.elapsed();
    if !status.success() {
        return Err(format!("{} exited with {status}", cmd.join(" ")));
    }
    let ru = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map_err(|e| e.to_string())?;
    println!("{} {}", wall.as_nanos(), ru.max_rss());
    Ok(())
}

/// One measured run: wall time and peak RSS.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    rss_kib: i64,
}

fn me() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("pfkey-bench"))
}

/// Jiffies the guest's CPUs have spent in all states, and idle (`/proc/stat`'s first line).
fn cpu_times() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    Some((v.iter().sum(), v.get(3)? + v.get(4).copied().unwrap_or(0)))
}

/// Waits until the kernel has finished the work earlier commands left it (after a flush
/// of N SAs, af_key's and xfrm's garbage collection frees their crypto state in a
/// workqueue for seconds under emulation), so that no measurement pays for another's
/// clean-up: until the CPUs are at least 90% idle over 200 ms, for at most 60 s.
fn quiesce() {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Some((t0, i0)) = cpu_times() else { return };
        std::thread::sleep(Duration::from_millis(200));
        let Some((t1, i1)) = cpu_times() else { return };
        if t1 > t0 && i1.saturating_sub(i0) * 10 >= (t1 - t0) * 9 {
            return;
        }
    }
}

/// Runs `cmd` under `measure`, on a quiet kernel ([`quiesce`]).
fn sample(cmd: &[&str], stdout: Option<&Path>, stdin: Option<&Path>) -> Result<Sample, String> {
    quiesce();
    let mut c = Command::new(me());
    c.arg("measure");
    if let Some(p) = stdout {
        c.arg("--stdout").arg(p);
    }
    if let Some(p) = stdin {
        c.arg("--stdin").arg(p);
    }
    c.arg("--").args(cmd);
    let out = c.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{}: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text
        .split_whitespace()
        .map(|v| v.parse::<i64>().unwrap_or(0));
    let (ns, rss) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    Ok(Sample {
        wall: Duration::from_nanos(ns as u64),
        rss_kib: rss,
    })
}

/// Runs a command whose time is not measured (set-up between measurements).
fn quiet(cmd: &[&str]) -> Result<(), String> {
    let st = Command::new(cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("{}: {e}", cmd[0]))?;
    st.success()
        .then_some(())
        .ok_or_else(|| format!("{} failed: {st}", cmd.join(" ")))
}

fn count_lines_with(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().filter(|l| l.contains(needle)).count())
        .unwrap_or(0)
}

struct Opts {
    sizes: Vec<u32>,
    reps: usize,
    latency: usize,
    dir: PathBuf,
    pfkey: String,
    ip: String,
    /// `ab`'s builds to compare (arguments that are not options).
    builds: Vec<String>,
}

/// The options in `args`, starting from `sizes` and `reps` (each command's defaults).
fn parse_opts(args: &[String], sizes: Vec<u32>, reps: usize) -> Result<Opts, String> {
    let mut o = Opts {
        sizes,
        reps,
        latency: 20,
        dir: PathBuf::from("/tmp/pfkey-bench"),
        pfkey: std::env::var("PFKEY_BIN").unwrap_or_else(|_| "pfkey".into()),
        ip: std::env::var("PFKEY_LAB_IP").unwrap_or_else(|_| "ip".into()),
        builds: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        if !args[i].starts_with("--") {
            o.builds.push(args[i].clone());
            i += 1;
            continue;
        }
        let v = args
            .get(i + 1)
            .ok_or_else(|| format!("{} needs a value", args[i]))?;
        match args[i].as_str() {
            "--sizes" => {
                o.sizes = v
                    .split(',')
                    .map(|s| s.parse().map_err(|_| format!("bad size {s}")))
                    .collect::<Result<_, _>>()?
            }
            "--reps" => o.reps = v.parse().map_err(|_| "bad --reps")?,
            "--latency" => o.latency = v.parse().map_err(|_| "bad --latency")?,
            "--dir" => o.dir = PathBuf::from(v),
            "--pfkey" => o.pfkey = v.clone(),
            "--ip" => o.ip = v.clone(),
            a => return Err(format!("unknown option {a}")),
        }
        i += 2;
    }
    Ok(o)
}

/// Median and spread of samples.
struct Stat {
    median: Duration,
    min: Duration,
    max: Duration,
    rss_kib: i64,
}

fn stat(samples: &[Sample]) -> Stat {
    let mut w: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    w.sort();
    Stat {
        median: w[w.len() / 2],
        min: w[0],
        max: w[w.len() - 1],
        rss_kib: samples.iter().map(|s| s.rss_kib).max().unwrap_or(0),
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let o = parse_opts(args, vec![1000, 10_000], 3)?;
    std::fs::create_dir_all(&o.dir).map_err(|e| e.to_string())?;
    let me = me();
    let me = me.to_str().ok_or("non-UTF-8 path")?;
    let (pk, ip) = (o.pfkey.as_str(), o.ip.as_str());
    println!(
        "pfkey-bench: kernel {}, sizes {:?}, {} repetitions, median (min–max)",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        o.sizes,
        o.reps
    );
    let mut rows: Vec<(u32, &str, Stat, Option<Duration>)> = Vec::new();
    for &n in &o.sizes {
        let script = workload_file(&o, n)?;
        let batch = o.dir.join(format!("add-{n}.batch"));
        std::fs::write(&batch, workload::ip_batch(n)).map_err(|e| e.to_string())?;
        let (text, json, ipl, flo) = (
            o.dir.join("dump.txt"),
            o.dir.join("dump.json"),
            o.dir.join("ip.txt"),
            o.dir.join("floor.txt"),
        );
        let ns = n.to_string();
        let mut s: std::collections::BTreeMap<&str, Vec<Sample>> = Default::default();
        for _ in 0..o.reps {
            quiet(&[pk, "flush"])?;
            s.entry("floor add")
                .or_default()
                .push(sample(&[me, "floor-add", &ns], None, None)?);
            s.entry("floor dump")
                .or_default()
                .push(sample(&[me, "floor-dump"], Some(&flo), None)?);
            check_count(&flo, n)?;
            s.entry("floor flush")
                .or_default()
                .push(sample(&[me, "floor-flush"], None, None)?);

            let sc = script.as_str();
            // Reading and compiling the script alone (no kernel): the CLI's own share.
            s.entry("pfkey -n -f add (compile only)")
                .or_default()
                .push(sample(&[pk, "-n", "-f", sc], None, None)?);
            s.entry("library add")
                .or_default()
                .push(sample(&[me, "lib-add", &ns], None, None)?);
            quiet(&[pk, "flush"])?;
            s.entry("pfkey -f add")
                .or_default()
                .push(sample(&[pk, "-f", sc], None, None)?);
            s.entry("pfkey dump text")
                .or_default()
                .push(sample(&[pk, "dump"], Some(&text), None)?);
            s.entry("pfkey dump json").or_default().push(sample(
                &[pk, "dump", "--json"],
                Some(&json),
                None,
            )?);
            s.entry("library dump")
                .or_default()
                .push(sample(&[me, "lib-dump"], Some(&flo), None)?);
            check_count(&flo, n)?;
            s.entry("pfkey flush")
                .or_default()
                .push(sample(&[pk, "flush"], None, None)?);

            let bt = batch.to_str().unwrap_or_default();
            s.entry("ip -batch add")
                .or_default()
                .push(sample(&[ip, "-batch", bt], None, None)?);
            s.entry("ip xfrm state list").or_default().push(sample(
                &[ip, "xfrm", "state", "list"],
                Some(&ipl),
                None,
            )?);
            let listed = count_lines_with(&ipl, "proto esp");
            if listed != n as usize {
                return Err(format!(
                    "ip xfrm state list showed {listed} SAs, expected {n}"
                ));
            }
            s.entry("ip xfrm state flush").or_default().push(sample(
                &[ip, "xfrm", "state", "flush"],
                None,
                None,
            )?);
        }
        let floor_of = |k: &str| -> Option<Duration> {
            let f = if k.contains("add") {
                "floor add"
            } else if k.contains("dump") || k.contains("list") {
                "floor dump"
            } else {
                "floor flush"
            };
            s.get(f).map(|v| stat(v).median)
        };
        for (k, v) in &s {
            rows.push((n, k, stat(v), floor_of(k)));
        }
    }
    print_table(&rows);
    latency(&o, pk, ip)?;
    Ok(())
}

/// `ab`: `pfkey -f` of the workload's script by each of several builds of `pfkey`, and the
/// floor, interleaved run by run in one boot (a build's placement of hot code changes its
/// speed under emulation, and boots differ, so builds are only compared this way). Each
/// run starts on an empty SAD and a quiet kernel; the table gives medians and × floor.
/// Each build's `pfkey -n -f` of the same script (checking only) is measured too: under
/// emulation the check's speed alone has moved by 40% between builds of the same parser.
fn ab(args: &[String]) -> Result<(), String> {
    let o = parse_opts(args, vec![1000], 20)?;
    let (me, flush) = builds_setup(&o, "ab: name at least one pfkey binary to measure")?;
    let me = me.as_str();
    let mut rows: Vec<(u32, String, Stat, Option<Duration>)> = Vec::new();
    for &n in &o.sizes {
        let script = workload_file(&o, n)?;
        let sc = script.as_str();
        let ns = n.to_string();
        let mut floor = Vec::new();
        let mut runs: Vec<Vec<Sample>> = vec![Vec::new(); o.builds.len()];
        let mut checks: Vec<Vec<Sample>> = vec![Vec::new(); o.builds.len()];
        for _ in 0..o.reps {
            quiet(&[flush, "flush"])?;
            floor.push(sample(&[me, "floor-add", &ns], None, None)?);
            for ((b, r), c) in o.builds.iter().zip(&mut runs).zip(&mut checks) {
                quiet(&[flush, "flush"])?;
                r.push(sample(&[b, "-f", sc], None, None)?);
                c.push(sample(&[b, "-n", "-f", sc], None, None)?);
            }
        }
        quiet(&[flush, "flush"])?;
        let f = stat(&floor);
        let base = f.median;
        rows.push((n, "floor add".into(), f, Some(base)));
        for ((b, r), c) in o.builds.iter().zip(&runs).zip(&checks) {
            rows.push((n, format!("{b} -f add"), stat(r), Some(base)));
            rows.push((
                n,
                format!("{b} -n -f add (check only)"),
                stat(c),
                Some(base),
            ));
        }
    }
    print_table(&rows);
    Ok(())
}

/// `timeline`: the phases of `pfkey -f` of the workload by each named build (built with
/// its `timeline` feature), interleaved with the floor's, in one boot (see [`timeline`]).
fn timeline_cmd(args: &[String]) -> Result<(), String> {
    let o = parse_opts(args, vec![1000], 10)?;
    let (me, flush) = builds_setup(
        &o,
        "timeline: name at least one pfkey binary built with --features timeline",
    )?;
    let me = me.as_str();
    for &n in &o.sizes {
        let script = workload_file(&o, n)?;
        let sc = script.as_str();
        let ns = n.to_string();
        let mut floor = Vec::new();
        let mut runs: Vec<Vec<Vec<(String, i128)>>> = vec![Vec::new(); o.builds.len()];
        for _ in 0..o.reps {
            quiet(&[flush, "flush"])?;
            quiesce();
            floor.push(timeline::run(&[me, "floor-add", &ns])?);
            for (b, r) in o.builds.iter().zip(&mut runs) {
                quiet(&[flush, "flush"])?;
                quiesce();
                let phases = timeline::run(&[b, "-f", sc])?;
                if phases.len() < 2 {
                    return Err(format!(
                        "{b} wrote no marks: build it with --features timeline"
                    ));
                }
                r.push(phases);
            }
        }
        quiet(&[flush, "flush"])?;
        println!();
        println!(
            "{n} adds, medians of {} runs (ms; a phase ends at its mark):",
            o.reps
        );
        let builds = o.builds.iter().map(|b| format!("{b} -f"));
        for (name, r) in std::iter::once("floor add".to_string())
            .chain(builds)
            .zip(std::iter::once(&floor).chain(&runs))
        {
            println!();
            println!("| {name} | median ms | runs |");
            println!("|---|---:|---:|");
            for (label, median, count) in timeline::summary(r) {
                println!("| {label} | {median:.2} | {count} |");
            }
        }
    }
    Ok(())
}

/// What `ab` and `timeline` need before they start: the build list checked (`none` is the
/// error without one), the work directory, this program's path (for the floor), and the
/// build that flushes between runs.
fn builds_setup<'o>(o: &'o Opts, none: &str) -> Result<(String, &'o str), String> {
    let flush = o.builds.first().ok_or(none)?;
    std::fs::create_dir_all(&o.dir).map_err(|e| e.to_string())?;
    let me = me().to_str().ok_or("non-UTF-8 path")?.to_string();
    Ok((me, flush.as_str()))
}

/// Writes the workload's script of `n` `add` statements into the work directory; its path.
fn workload_file(o: &Opts, n: u32) -> Result<String, String> {
    let script = o.dir.join(format!("add-{n}.conf"));
    std::fs::write(&script, workload::setkey_script(n)).map_err(|e| e.to_string())?;
    Ok(script.to_str().ok_or("non-UTF-8 path")?.to_string())
}

fn check_count(path: &Path, n: u32) -> Result<(), String> {
    let got = std::fs::read_to_string(path).unwrap_or_default();
    if got.trim() != n.to_string() {
        return Err(format!("a dump returned {} SAs, expected {n}", got.trim()));
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn print_table<K: AsRef<str>>(rows: &[(u32, K, Stat, Option<Duration>)]) {
    println!();
    println!("| N | operation | median ms | min–max ms | µs per SA | × floor | peak RSS KiB |");
    println!("|---:|---|---:|---|---:|---:|---:|");
    for (n, k, st, floor) in rows {
        let k = k.as_ref();
        let ratio = floor
            .filter(|f| !f.is_zero())
            .map(|f| format!("{:.2}", st.median.as_secs_f64() / f.as_secs_f64()))
            .unwrap_or_default();
        println!(
            "| {n} | {k} | {} | {}–{} | {:.1} | {ratio} | {} |",
            ms(st.median),
            ms(st.min),
            ms(st.max),
            st.median.as_secs_f64() * 1e6 / f64::from(*n),
            st.rss_kib
        );
    }
}

/// One `pfkey add` process versus one `ip xfrm state add` process, repeated.
fn latency(o: &Opts, pk: &str, ip: &str) -> Result<(), String> {
    if o.latency == 0 {
        return Ok(());
    }
    let (a, e) = (
        "0x1111111111111111111111111111111111111111",
        "0x22222222222222222222222222222222",
    );
    let mut p = Vec::new();
    let mut i = Vec::new();
    for k in 0..o.latency {
        quiet(&[pk, "flush"])?;
        let spi = format!("{:#x}", 0x10_0000 + k);
        p.push(sample(
            &[
                pk,
                "--quiet",
                "add",
                "--esp",
                "aes-cbc",
                "--enc-key",
                e,
                "--auth",
                "hmac-sha1",
                "--auth-key",
                a,
                "--src",
                "10.0.0.1",
                "--dst",
                "10.128.0.1",
                "--spi",
                &spi,
                "--mode",
                "transport",
            ],
            None,
            None,
        )?);
        i.push(sample(
            &[
                ip,
                "xfrm",
                "state",
                "add",
                "src",
                "10.0.0.2",
                "dst",
                "10.128.0.2",
                "proto",
                "esp",
                "spi",
                &spi,
                "mode",
                "transport",
                "enc",
                "cbc(aes)",
                e,
                "auth-trunc",
                "hmac(sha1)",
                a,
                "96",
            ],
            None,
            None,
        )?);
    }
    quiet(&[pk, "flush"])?;
    let (sp, si) = (stat(&p), stat(&i));
    println!();
    println!("| single-SA add, one process | median ms | min–max ms | × ip |");
    println!("|---|---:|---|---:|");
    println!(
        "| pfkey add | {} | {}–{} | {:.2} |",
        ms(sp.median),
        ms(sp.min),
        ms(sp.max),
        sp.median.as_secs_f64() / si.median.as_secs_f64()
    );
    println!(
        "| ip xfrm state add | {} | {}–{} | 1.00 |",
        ms(si.median),
        ms(si.min),
        ms(si.max)
    );
    Ok(())
}
