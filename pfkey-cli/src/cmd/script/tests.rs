//! Tests of the executor's own logic — which requests it sends in which order, how it counts
//! and stops, what it reports — over a scripted transport. The transport answers like a
//! tiny SA table; it stands in for nothing the kernel decides (that is tested in the kernel
//! lab, `tests/kernel/tests/setkey_scripts.rs`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Instant;

use clap::Parser;
use pfkey::builder::MessageBuilder;
use pfkey::repr::{Address, Header, Sa};
use pfkey::transport::{MsgBuf, Transport};
use pfkey::wire::{Direction, ExtType, MsgType, SaState, SaType};

use super::*;
use crate::cli::Cli;

/// What the scripted table holds and has seen.
#[derive(Default)]
struct Table {
    /// (satype, spi, src, dst).
    sas: Vec<(SaType, u32, IpAddr, IpAddr)>,
    /// Every request: type, satype, SPI (if any), policy direction (if any).
    log: Vec<(MsgType, SaType, Option<u32>, Option<Direction>)>,
    /// SPIs whose ADD is refused with this errno.
    refuse_spi: Vec<(u32, u8)>,
    /// Policy directions whose SPDADD is refused with this errno.
    refuse_dir: Vec<(Direction, u8)>,
}

struct Scripted {
    table: Rc<RefCell<Table>>,
    inbox: VecDeque<Vec<u8>>,
}

fn frame(h: Header, f: impl FnOnce(&mut MessageBuilder<'_>)) -> Vec<u8> {
    let mut v = Vec::new();
    let mut b = MessageBuilder::new_vec(&mut v, &h);
    f(&mut b);
    b.finish().unwrap();
    v
}

fn error_reply(m: &Message<'_>, errno: u8) -> Vec<u8> {
    let mut h = Header::new(m.msg_type(), m.satype(), m.seq(), m.pid());
    h.errno = errno;
    frame(h, |_| {})
}

impl Transport for Scripted {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let m = Message::parse(bytes).map_err(|e| io::Error::other(e.to_string()))?;
        let mut t = self.table.borrow_mut();
        let spi = m.sa().map(|s| s.spi.get());
        let dir = m.policy().map(|p| p.dir());
        t.log.push((m.msg_type(), m.satype(), spi, dir));
        let sa_key = |m: &Message<'_>| {
            (
                m.satype(),
                m.sa().map_or(0, |s| s.spi.get()),
                m.src().map(|a| a.ip()),
                m.dst().map(|a| a.ip()),
            )
        };
        let reply = match m.msg_type() {
            MsgType::Add => {
                let (satype, spi, src, dst) = sa_key(&m);
                if let Some(&(_, e)) = t.refuse_spi.iter().find(|(s, _)| *s == spi) {
                    vec![error_reply(&m, e)]
                } else if t.sas.iter().any(|x| x.0 == satype && x.1 == spi) {
                    vec![error_reply(&m, libc::EEXIST as u8)]
                } else {
                    t.sas.push((satype, spi, src.unwrap(), dst.unwrap()));
                    vec![bytes.to_vec()]
                }
            }
            MsgType::Delete => {
                let (satype, spi, src, dst) = sa_key(&m);
                let before = t.sas.len();
                t.sas.retain(|x| {
                    !(x.0 == satype && x.1 == spi && Some(x.2) == src && Some(x.3) == dst)
                });
                if t.sas.len() < before {
                    vec![bytes.to_vec()]
                } else {
                    vec![error_reply(&m, libc::ESRCH as u8)]
                }
            }
            MsgType::Dump => {
                let entries: Vec<_> = t
                    .sas
                    .iter()
                    .filter(|x| m.satype() == SaType::Unspec || x.0 == m.satype())
                    .copied()
                    .collect();
                if entries.is_empty() {
                    vec![error_reply(&m, libc::ENOENT as u8)]
                } else {
                    let n = entries.len();
                    entries
                        .iter()
                        .enumerate()
                        .map(|(i, (satype, spi, src, dst))| {
                            let seq = if i + 1 == n { 0 } else { i as u32 + 1 };
                            frame(Header::new(MsgType::Dump, *satype, seq, m.pid()), |b| {
                                b.sa(&Sa {
                                    spi: *spi,
                                    replay: 0,
                                    state: SaState::Mature,
                                    auth: 0,
                                    encrypt: 11,
                                    flags: 0,
                                })
                                .unwrap();
                                b.address(ExtType::AddressSrc, &Address::host(*src))
                                    .unwrap();
                                b.address(ExtType::AddressDst, &Address::host(*dst))
                                    .unwrap();
                            })
                        })
                        .collect()
                }
            }
            MsgType::XSpdAdd => match t.refuse_dir.iter().find(|(d, _)| Some(*d) == dir) {
                Some(&(_, e)) => vec![error_reply(&m, e)],
                None => vec![bytes.to_vec()],
            },
            MsgType::Flush => {
                t.sas.clear();
                vec![bytes.to_vec()]
            }
            _ => vec![bytes.to_vec()],
        };
        self.inbox.extend(reply);
        Ok(())
    }

    fn recv(&mut self, buf: &mut MsgBuf, _deadline: Option<Instant>) -> io::Result<Option<usize>> {
        match self.inbox.pop_front() {
            Some(f) => {
                buf.prepare(f.len()).copy_from_slice(&f);
                Ok(Some(f.len()))
            }
            None => Ok(None),
        }
    }
}

fn output() -> Output {
    Output::new(&Cli::parse_from(["pfkey", "-f", "x"]))
}

fn opts(keep_going: bool) -> ExecOptions {
    ExecOptions {
        lower: LowerOptions::default(),
        keep_going,
        show_keys: false,
        show_dead: false,
        show_ports: false,
    }
}

fn executor(table: &Rc<RefCell<Table>>, keep_going: bool) -> Executor<Scripted> {
    let t = Rc::clone(table);
    Executor::new(
        Box::new(move || {
            let mut c = Client::new(Scripted {
                table: Rc::clone(&t),
                inbox: VecDeque::new(),
            });
            c.set_timeout(std::time::Duration::from_millis(50));
            Ok(c)
        }),
        opts(keep_going),
    )
}

/// A table that refuses the ADD of `spi` with EINVAL.
fn table_refusing(spi: u32) -> Rc<RefCell<Table>> {
    let table = Rc::new(RefCell::new(Table::default()));
    table
        .borrow_mut()
        .refuse_spi
        .push((spi, libc::EINVAL as u8));
    table
}

fn compiled(src: &str) -> Compiled {
    let c = compile(src, "t.conf", &LowerOptions::default(), &setkey::NoResolver);
    assert_eq!(c.errors(), 0, "{:?}", c.script.diagnostics);
    c
}

/// [`compiled`], kept as `keep` says: a script that [`compile`] would prepare at once can
/// go through the helper thread's pipeline too.
fn compiled_as(src: &str, keep: Keep) -> Compiled {
    let text = Zeroizing::new(src.to_string());
    let c = compile_owned(
        text,
        "t.conf",
        &LowerOptions::default(),
        &setkey::NoResolver,
        keep,
    );
    assert_eq!(c.errors(), 0, "{:?}", c.script.diagnostics);
    assert_eq!(c.prepared.is_some(), keep == Keep::Prepared);
    c
}

/// Both ways of running a script: prepared while checked, and through the helper.
const RUN_KEEPS: [Keep; 2] = [Keep::Prepared, Keep::Requests];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const ADD3: &str = "
add 10.0.0.1 10.0.0.2 esp 0x101 -E null ;
add 10.0.0.1 10.0.0.2 esp 0x102 -E null ;
add 10.0.0.1 10.0.0.2 esp 0x103 -E null ;
";

#[test]
fn statements_run_in_order_and_success_is_counted() {
    let table = Rc::new(RefCell::new(Table::default()));
    let mut exec = executor(&table, false);
    let mut out = output();
    let flow = exec.run_script(compiled(ADD3), &mut out).unwrap();
    assert_eq!(flow, Flow::Continue);
    assert!(exec.finish(&mut out).is_ok());
    assert_eq!((exec.run, exec.failed, exec.skipped), (3, 0, 0));
    let spis: Vec<_> = table.borrow().log.iter().map(|l| l.2).collect();
    assert_eq!(spis, vec![Some(0x101), Some(0x102), Some(0x103)]);
}

#[test]
fn the_first_failure_stops_the_script_with_status_1() {
    let table = table_refusing(0x102);
    let mut exec = executor(&table, false);
    let mut out = output();
    let flow = exec.run_script(compiled(ADD3), &mut out).unwrap();
    assert_eq!(flow, Flow::Stop);
    assert_eq!((exec.run, exec.failed, exec.skipped), (2, 1, 1));
    assert_eq!(table.borrow().sas.len(), 1);
    match exec.finish(&mut out) {
        Err(Failure::Reported(Exit::KernelRefused)) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn keep_going_runs_everything_and_keeps_the_first_status() {
    let table = table_refusing(0x101);
    let mut exec = executor(&table, true);
    let mut out = output();
    // The second file repeats 0x102: EEXIST.
    assert_eq!(
        exec.run_script(compiled(ADD3), &mut out).unwrap(),
        Flow::Continue
    );
    assert_eq!(
        exec.run_script(
            compiled("add 10.0.0.1 10.0.0.2 esp 0x102 -E null ;"),
            &mut out
        )
        .unwrap(),
        Flow::Continue
    );
    assert_eq!((exec.run, exec.failed, exec.skipped), (4, 2, 0));
    assert_eq!(table.borrow().sas.len(), 2);
    assert!(matches!(
        exec.finish(&mut out),
        Err(Failure::Reported(Exit::KernelRefused))
    ));
}

#[test]
fn deleteall_deletes_only_the_sas_between_its_two_addresses() {
    let table = Rc::new(RefCell::new(Table::default()));
    {
        let mut t = table.borrow_mut();
        t.sas
            .push((SaType::Esp, 0x1, ip("10.0.0.1"), ip("10.0.0.2")));
        t.sas
            .push((SaType::Esp, 0x2, ip("10.0.0.2"), ip("10.0.0.1")));
        t.sas
            .push((SaType::Esp, 0x3, ip("10.0.0.1"), ip("10.0.0.2")));
        t.sas
            .push((SaType::Ah, 0x4, ip("10.0.0.1"), ip("10.0.0.2")));
    }
    let mut exec = executor(&table, false);
    let mut out = output();
    exec.run_script(compiled("deleteall 10.0.0.1 10.0.0.2 esp ;"), &mut out)
        .unwrap();
    assert!(exec.finish(&mut out).is_ok());
    let left: Vec<u32> = table.borrow().sas.iter().map(|x| x.1).collect();
    assert_eq!(left, vec![0x2, 0x4]);
    let log: Vec<_> = table.borrow().log.iter().map(|l| (l.0, l.2)).collect();
    assert_eq!(
        log,
        vec![
            (MsgType::Dump, None),
            (MsgType::Delete, Some(0x1)),
            (MsgType::Delete, Some(0x3))
        ]
    );
    // Nothing to delete is no error.
    exec.run_script(compiled("deleteall 10.9.9.9 10.0.0.2 esp ;"), &mut out)
        .unwrap();
    assert!(exec.finish(&mut out).is_ok());
}

#[test]
fn in_policies_get_their_fwd_copy_unless_kernel_mode() {
    let src = "spdadd 10.0.0.1 10.0.0.2 any -P in ipsec esp/transport//require ;";
    let table = Rc::new(RefCell::new(Table::default()));
    let mut exec = executor(&table, false);
    let mut out = output();
    exec.run_script(compiled(src), &mut out).unwrap();
    let dirs: Vec<_> = table.borrow().log.iter().map(|l| l.3).collect();
    assert_eq!(dirs, vec![Some(Direction::In), Some(Direction::Fwd)]);

    let table = Rc::new(RefCell::new(Table::default()));
    let mut exec = executor(&table, false);
    exec.opts.lower.fwd_copy = false;
    let c = compile(src, "t.conf", &exec.opts.lower, &setkey::NoResolver);
    exec.run_script(c, &mut out).unwrap();
    let dirs: Vec<_> = table.borrow().log.iter().map(|l| l.3).collect();
    assert_eq!(dirs, vec![Some(Direction::In)]);
}

#[test]
fn a_refused_fwd_copy_is_recognised() {
    let table = Rc::new(RefCell::new(Table::default()));
    table
        .borrow_mut()
        .refuse_dir
        .push((Direction::Fwd, libc::EEXIST as u8));
    let mut exec = executor(&table, false);
    let mut out = output();
    let c = compiled_as(
        "spdadd 10.0.0.1 10.0.0.2 any -P in ipsec esp/transport//require ;",
        Keep::Requests,
    );
    let (first, second) = (
        policy_dir(&c.requests[0].1[0]),
        policy_dir(&c.requests[0].1[1]),
    );
    assert!(follows_in_as_fwd(first, second));
    assert!(!follows_in_as_fwd(second, first));
    exec.run_script(c, &mut out).unwrap();
    assert_eq!(exec.failed, 1);
    // The same, prepared at once: the second request is marked as the fwd copy.
    let c = compiled("spdadd 10.0.0.1 10.0.0.2 any -P in ipsec esp/transport//require ;");
    let batches = c.prepared.as_ref().unwrap();
    let copies: Vec<bool> = batches[0].steps.iter().map(|p| p.fwd_copy).collect();
    assert_eq!(copies, [false, true]);
    let mut exec = executor(&table, false);
    exec.run_script(c, &mut out).unwrap();
    assert_eq!(exec.failed, 1);
}

#[test]
fn exit_stops_and_is_not_counted() {
    let table = Rc::new(RefCell::new(Table::default()));
    let mut exec = executor(&table, false);
    let mut out = output();
    let c = compile(
        "add 10.0.0.1 10.0.0.2 esp 0x101 -E null ;\nexit ;\nadd 10.0.0.1 10.0.0.2 esp 0x102 -E null ;\n",
        "t.conf",
        &LowerOptions::default(),
        &setkey::NoResolver,
    );
    assert_eq!(exec.run_script(c, &mut out).unwrap(), Flow::Exit);
    assert_eq!(exec.run, 1);
    assert_eq!(table.borrow().sas.len(), 1);
}

#[test]
fn no_pf_key_ends_the_run_with_69() {
    let mut exec: Executor<Scripted> =
        Executor::new(Box::new(|| Err(client::Error::NoPfKey)), opts(true));
    let mut out = output();
    match exec.run_script(compiled(ADD3), &mut out) {
        Err(Failure::Error { exit, message }) => {
            assert_eq!(exit, Exit::NoPfKey);
            assert!(message.contains("no PF_KEY"), "{message}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    // A script without requests never opens the socket.
    let mut exec: Executor<Scripted> = Executor::new(
        Box::new(|| panic!("the socket must not be opened")),
        opts(false),
    );
    assert_eq!(
        exec.run_script(compiled("# nothing\n"), &mut out).unwrap(),
        Flow::Continue
    );
}

#[test]
fn lowering_errors_are_compile_errors() {
    let c = compile(
        "add 10.0.0.1 nosuchhost.invalid esp 0x101 -E null ;\nadd 10.0.0.1 10.0.0.2 esp 0x102 -E null ;",
        "t.conf",
        &LowerOptions::default(),
        &setkey::NoResolver,
    );
    assert_eq!(c.errors(), 1);
    let d = &c.script.diagnostics[0];
    assert_eq!((d.line, d.column), (1, 14));
    assert!(
        d.message.contains("cannot resolve 'nosuchhost.invalid'"),
        "{}",
        d.message
    );
}

#[test]
fn hidden_keys_keep_the_layout_of_setkey_dump() {
    let text = "10.0.0.1 10.0.0.2 \n\
                \tesp mode=tunnel spi=4096(0x00001000) reqid=7(0x00000007)\n\
                \tE: aes-cbc  40414243 44454647 48494a4b 4c4d4e4f 50515253 54555657 58595a5b 5c5d5e5f\n 60616263\n\
                \tA: hmac-sha1  20212223 24252627 28292a2b 2c2d2e2f 30313233\n\
                \tseq=0x00000000 replay=32 flags=0x00000000 state=mature \n";
    let hidden = hide_keys(text);
    assert_eq!(
        hidden.as_str(),
        "10.0.0.1 10.0.0.2 \n\
         \tesp mode=tunnel spi=4096(0x00001000) reqid=7(0x00000007)\n\
         \tE: aes-cbc  <redacted, 288 bits>\n\
         \tA: hmac-sha1  <redacted, 160 bits>\n\
         \tseq=0x00000000 replay=32 flags=0x00000000 state=mature \n"
    );
    // The null algorithm has no key to hide; IPComp's C: line is untouched.
    let text = "\tE: null \n\tC: deflate \tseq=0x00000000\n";
    assert_eq!(hide_keys(text).as_str(), text);
}

#[test]
fn interactive_statements_complete_at_a_semicolon_that_ends_a_line() {
    assert!(statement_complete(b"flush ;\n"));
    assert!(statement_complete(
        b"add 10.0.0.1 10.0.0.2 ah 1\n -A null ; # done\n"
    ));
    assert!(!statement_complete(b"add 10.0.0.1 10.0.0.2 ah 1\n"));
    assert!(!statement_complete(b"flush ;"));
    // A ';' inside an unfinished quoted key does not end the statement.
    assert!(!statement_complete(
        b"add 10.0.0.1 10.0.0.2 ah 1 -A hmac-md5 \"ab;\n"
    ));
    assert!(statement_complete(b"\xff\n"));
}

#[test]
fn reading_a_secret_grows_without_losing_bytes() {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let got = read_secret(&mut &data[..], 10).unwrap();
    assert_eq!(&got[..], &data[..]);
    let got = read_secret(&mut &data[..], data.len()).unwrap();
    assert_eq!(&got[..], &data[..]);
    assert!(read_secret(&mut &b""[..], 0).unwrap().is_empty());
    // Shorter than expected, and a reader that gives a few bytes at a time and is
    // sometimes interrupted (a pipe): the same bytes.
    let got = read_secret(&mut &data[..], data.len() + 5000).unwrap();
    assert_eq!(&got[..], &data[..]);
    struct Trickle<'a>(&'a [u8], u32);
    impl io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 += 1;
            if self.1.is_multiple_of(5) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    for hint in [0, 1000, data.len(), data.len() + 1] {
        let got = read_secret(&mut Trickle(&data[..20_000], 0), hint).unwrap();
        assert_eq!(&got[..], &data[..20_000]);
    }
}

#[test]
fn non_utf8_scripts_say_where() {
    match as_text(b"flush ;\nadd \xff", "x.conf") {
        Err(Failure::Error { exit, message }) => {
            assert_eq!(exit, Exit::DataError);
            assert!(
                message.starts_with("x.conf:2:5: the script is not UTF-8"),
                "{message}"
            );
        }
        _ => panic!(),
    }
}

/// The span of statement `i` of a compiled script.
fn span_of(c: &Compiled, i: usize) -> Span {
    c.script.statements_again().nth(i).map(|s| s.span).unwrap()
}

#[test]
fn a_refused_statement_is_shown_whole_with_its_keys_masked() {
    let src = "flush ;\nadd 10.0.0.1 10.0.0.2 esp 0x101\n\t-E aes-cbc 0x00112233445566778899aabbccddeeff\n\t-A hmac-md5 \"0123456789abcdef\" ;\n";
    let c = compiled(src);
    let text = statement_error(&c.script, span_of(&c, 1), "refused");
    assert_eq!(
        text,
        "t.conf:2:1: refused\n \
         2 | add 10.0.0.1 10.0.0.2 esp 0x101\n \
         3 | \t-E aes-cbc **********************************\n \
         4 | \t-A hmac-md5 ****************** ;"
    );
    // Long statements are cut: 14 lines, 8 shown.
    let long = format!(
        "add 10.0.0.1 10.0.0.2 esp 0x101{} -E null ;\n",
        "\n".repeat(13)
    );
    let c = compiled(&long);
    let text = statement_error(&c.script, span_of(&c, 0), "refused");
    assert_eq!(text.lines().count(), 1 + SHOWN_LINES + 1, "{text}");
    assert!(text.ends_with("\n    | … (6 more lines)"), "{text:?}");
}

/// A script long enough to be prepared on a second thread, over several batches: `n`
/// ADDs, with a `deleteall` (not a plain request) after every 100th and an `spdadd` (an
/// `in` policy and its fwd copy) after every 150th.
fn long_script(n: u32) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "add 10.0.0.1 10.0.0.2 esp {:#x} -E null ;\n",
            0x1000 + i
        ));
        if i % 100 == 99 {
            s.push_str("deleteall 10.0.9.1 10.0.9.2 esp ;\n");
        }
        if i % 150 == 149 {
            s.push_str("spdadd 10.1.0.0/16 10.2.0.0/16 any -P in ipsec esp/transport//require ;\n");
        }
    }
    s
}

/// What a serial run of [`long_script`]'s first `n` statements sends.
fn long_script_log(n: u32) -> Vec<(MsgType, Option<u32>, Option<Direction>)> {
    let mut log = Vec::new();
    for i in 0..n {
        log.push((MsgType::Add, Some(0x1000 + i), None));
        if i % 100 == 99 {
            log.push((MsgType::Dump, None, None));
        }
        if i % 150 == 149 {
            log.push((MsgType::XSpdAdd, None, Some(Direction::In)));
            log.push((MsgType::XSpdAdd, None, Some(Direction::Fwd)));
        }
    }
    log
}

fn sent(table: &Rc<RefCell<Table>>) -> Vec<(MsgType, Option<u32>, Option<Direction>)> {
    table.borrow().log.iter().map(|l| (l.0, l.2, l.3)).collect()
}

#[test]
fn a_long_script_runs_in_order_across_batches() {
    for keep in RUN_KEEPS {
        let c = compiled_as(&long_script(2100), keep);
        let total = c.script.count;
        assert!(total > 2 * prepare::BATCH_STATEMENTS);
        let table = Rc::new(RefCell::new(Table::default()));
        let mut exec = executor(&table, false);
        let mut out = output();
        assert_eq!(exec.run_script(c, &mut out).unwrap(), Flow::Continue);
        assert_eq!((exec.failed, exec.skipped), (0, 0), "{keep:?}");
        assert_eq!(exec.run, total);
        assert_eq!(sent(&table), long_script_log(2100), "{keep:?}");
        assert_eq!(table.borrow().sas.len(), 2100);
        // Prepared at once, it never started the helper.
        assert_eq!(exec.helper.is_some(), keep == Keep::Requests);
    }
}

#[test]
fn a_failure_in_a_long_script_stops_it_there() {
    for keep in RUN_KEEPS {
        a_failure_in_a_long_script_stops_it_there_as(keep);
    }
}

fn a_failure_in_a_long_script_stops_it_there_as(keep: Keep) {
    let c = compiled_as(&long_script(700), keep);
    let total = c.script.count;
    let table = table_refusing(0x1000 + 500);
    let mut exec = executor(&table, false);
    let mut out = output();
    assert_eq!(exec.run_script(c, &mut out).unwrap(), Flow::Stop);
    // Nothing after the refused ADD was sent, though it had been prepared.
    assert_eq!(sent(&table), long_script_log(501));
    assert_eq!(table.borrow().sas.len(), 500);
    assert_eq!(exec.failed, 1);
    assert_eq!(exec.run + exec.skipped, total);

    // With --keep-going everything else runs.
    let table = table_refusing(0x1000 + 500);
    table
        .borrow_mut()
        .refuse_dir
        .push((Direction::Fwd, libc::EEXIST as u8));
    let mut exec = executor(&table, true);
    let c = compiled_as(&long_script(700), keep);
    assert_eq!(exec.run_script(c, &mut out).unwrap(), Flow::Continue);
    assert_eq!(sent(&table), long_script_log(700));
    // The ADD and the four fwd copies.
    assert_eq!(exec.failed, 5);
}

#[test]
fn exit_in_a_long_script_ends_it_there() {
    let mut src = long_script(300);
    src.push_str("exit ;\n");
    src.push_str(&long_script(300).replace("0x1", "0x2"));
    for keep in RUN_KEEPS {
        let c = compiled_as(&src, keep);
        let table = Rc::new(RefCell::new(Table::default()));
        let mut exec = executor(&table, false);
        let mut out = output();
        assert_eq!(exec.run_script(c, &mut out).unwrap(), Flow::Exit);
        assert_eq!(sent(&table), long_script_log(300), "{keep:?}");
    }
}

#[test]
fn statements_the_preparer_never_delivered_are_an_internal_error_not_a_skip() {
    let Compiled {
        script, requests, ..
    } = compiled_as(&long_script(100), Keep::Requests);
    let total = script.count;
    let table = Rc::new(RefCell::new(Table::default()));
    let mut exec = executor(&table, false);
    let mut out = output();
    // Only the first batch arrives.
    let first = prepare::script_batches(&script, requests, LowerOptions::default(), None).take(1);
    let flow = exec.run_batches(&script, total, first, &mut out).unwrap();
    assert_eq!(flow, Flow::Stop);
    assert_eq!(exec.first_failure, Some(Exit::Internal));
    assert_eq!(exec.run + exec.skipped, total);
    assert!(exec.run > 0 && exec.skipped > 0);
}

#[test]
fn the_helper_prepares_one_script_after_another_even_after_a_stop() {
    let table = table_refusing(0x1000 + 100);
    let mut exec = executor(&table, false);
    let mut out = output();
    // Started beforehand, as an earlier long script would have.
    exec.start_helper();
    assert!(exec.helper.is_some());
    assert_eq!(
        exec.run_script(compiled_as(&long_script(700), Keep::Requests), &mut out)
            .unwrap(),
        Flow::Stop
    );
    assert_eq!(sent(&table), long_script_log(101));
    // The helper dropped the stopped script's batches and takes the next one; a short
    // script runs through it too, once it is running.
    table.borrow_mut().refuse_spi.clear();
    table.borrow_mut().log.clear();
    let next = long_script(700).replace("0x1", "0x3");
    assert_eq!(
        exec.run_script(compiled_as(&next, Keep::Requests), &mut out)
            .unwrap(),
        Flow::Continue
    );
    assert_eq!(table.borrow().log.len(), long_script_log(700).len());
    table.borrow_mut().log.clear();
    assert_eq!(
        exec.run_script(compiled_as(ADD3, Keep::Requests), &mut out)
            .unwrap(),
        Flow::Continue
    );
    assert_eq!(table.borrow().log.len(), 3);
}

#[test]
fn a_long_script_that_ran_is_kept_wiped_for_the_exit_and_a_short_one_is_freed() {
    let table = Rc::new(RefCell::new(Table::default()));
    let mut exec = executor(&table, false);
    let mut out = output();
    let src = long_script(2100);
    assert!(src.len() >= RETIRED_MIN_BYTES);
    let c = compiled_as(&src, Keep::Prepared);
    assert_eq!(exec.run_script(c, &mut out).unwrap(), Flow::Continue);
    let [script] = &exec.retired.scripts[..] else {
        panic!("{} scripts kept", exec.retired.scripts.len());
    };
    assert_eq!(script.source().len(), src.len());
    assert!(
        script.source().bytes().all(|b| b == 0),
        "the text is not wiped"
    );
    // Every sent batch is kept emptied, its messages (keys) wiped.
    assert!(exec.retired.batches.len() >= 2);
    for b in &exec.retired.batches {
        assert!(b.statements.is_empty() && b.steps.is_empty());
        assert!(b.arena.is_wiped());
    }
    // A short script is freed once it has run.
    let c = compiled_as(ADD3, Keep::Prepared);
    exec.run_script(c, &mut out).unwrap();
    assert_eq!(exec.retired.scripts.len(), 1);
}
