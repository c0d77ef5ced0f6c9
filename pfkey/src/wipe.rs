//! Wiping secrets: key material is overwritten with zeros before its memory is reused, in
//! a way the compiler may not remove (the [`zeroize`] crate's volatile writes), eight bytes
//! per write where the buffer is aligned for it. Byte-wise wiping of every message and
//! script costs a store per byte; under emulation (the kernel lab's QEMU TCG) each store is
//! a software TLB lookup.
#![forbid(unsafe_code)]

use zerocopy::FromBytes;
use zeroize::Zeroize;

/// Overwrites `bytes` with zeros (volatile writes, as [`Zeroize`] does, a word at a time
/// where `bytes` is 8-byte aligned).
pub fn wipe(bytes: &mut [u8]) {
    let head = bytes.as_ptr().align_offset(8).min(bytes.len());
    let (head, rest) = bytes.split_at_mut(head);
    head.zeroize();
    let (words, tail) = rest.split_at_mut(rest.len() / 8 * 8);
    match <[u64]>::mut_from_bytes(words) {
        Ok(w) => w.zeroize(),
        // Not reached (aligned, a multiple of 8 long); wiped all the same.
        Err(_) => words.zeroize(),
    }
    tail.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_is_wiped_at_every_alignment_and_length() {
        let mut buf = [0xA5u8; 200];
        for start in 0..16 {
            for len in 0..(200 - start) {
                buf.fill(0xA5);
                wipe(&mut buf[start..start + len]);
                assert!(buf[start..start + len].iter().all(|&b| b == 0));
                assert!(buf[..start].iter().all(|&b| b == 0xA5));
                assert!(buf[start + len..].iter().all(|&b| b == 0xA5));
            }
        }
    }
}
