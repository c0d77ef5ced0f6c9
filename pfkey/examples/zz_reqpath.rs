// THROWAWAY (not committed): instructions per request_built_in_place, echo transport.
use pfkey::client::{Client, Operation};
use pfkey::transport::{MsgBuf, Transport};
use pfkey::wire::{MsgType, SaType};
use std::io;
use std::time::Instant;

struct Echo {
    q: Option<Vec<u8>>,
    last: Vec<u8>,
}
impl Transport for Echo {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.last.clear();
        self.last.extend_from_slice(msg);
        self.q = Some(std::mem::take(&mut self.last));
        Ok(())
    }
    fn recv(&mut self, buf: &mut MsgBuf, _d: Option<Instant>) -> io::Result<Option<usize>> {
        self.try_recv(buf)
    }
    fn try_recv(&mut self, buf: &mut MsgBuf) -> io::Result<Option<usize>> {
        match self.q.take() {
            Some(f) => {
                buf.prepare(f.len()).copy_from_slice(&f);
                let n = f.len();
                self.last = f;
                Ok(Some(n))
            }
            None => Ok(None),
        }
    }
}
fn main() {
    let n: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let hex = "02030003130000000000000000000000030009008000000022222222222222222222222222222222040008 00a0000000111111111111111111111111111111111111111111111111111111110000000002000100000010000000030c400000000200130001000000000000000000000000030005 00ff200000020000000a000000000000000000000003000600ff200000020000000a8000000000000000000000".replace(' ', "");
    let msg = hex::decode(hex).unwrap();
    let mut c = Client::new(Echo {
        q: None,
        last: Vec::new(),
    });
    let op = Operation::new(MsgType::Add, SaType::Esp);
    let mut m = msg.clone();
    for _ in 0..n {
        m[8..16].fill(0);
        c.request_built_in_place(&mut m, &op).unwrap();
    }
}
