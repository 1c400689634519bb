//! The exact-length loops over possibly short transfers.
//!
//! `pread`/`pwrite` may move fewer bytes than asked, and may be interrupted. Both
//! storages route their IO through these two loops, so the simulator's short-transfer
//! faults test the same code real files run.

use std::io;

/// Calls `transfer(buf_tail, offset)` until `buf` is full. A transfer returning 0 means
/// end of file (`UnexpectedEof`); `Interrupted` is retried; any other error is returned.
pub(crate) fn read_exact_with(
    buf: &mut [u8],
    offset: u64,
    mut transfer: impl FnMut(&mut [u8], u64) -> io::Result<usize>,
) -> io::Result<()> {
    let mut done = 0_usize;
    while done < buf.len() {
        let at = offset + done as u64;
        match transfer(&mut buf[done..], at) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("read of {} bytes at {offset} hit end of file", buf.len()),
                ));
            }
            Ok(n) => {
                assert!(
                    n <= buf.len() - done,
                    "transfer claimed more bytes than asked"
                );
                done += n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Calls `transfer(buf_tail, offset)` until all of `buf` is written. A transfer
/// returning 0 is `WriteZero`; `Interrupted` is retried; any other error is returned
/// (with some prefix possibly written).
pub(crate) fn write_all_with(
    buf: &[u8],
    offset: u64,
    mut transfer: impl FnMut(&[u8], u64) -> io::Result<usize>,
) -> io::Result<()> {
    let mut done = 0_usize;
    while done < buf.len() {
        let at = offset + done as u64;
        match transfer(&buf[done..], at) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("write at {at} made no progress"),
                ));
            }
            Ok(n) => {
                assert!(
                    n <= buf.len() - done,
                    "transfer claimed more bytes than given"
                );
                done += n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn short_and_interrupted_reads_are_completed() {
        let src: Vec<u8> = (0..100).collect();
        let mut calls = 0;
        let mut buf = [0_u8; 40];
        read_exact_with(&mut buf, 10, |b, off| {
            calls += 1;
            if calls % 3 == 0 {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            let n = b.len().min(7);
            let off = off as usize;
            b[..n].copy_from_slice(&src[off..off + n]);
            Ok(n)
        })
        .expect("read");
        assert_eq!(&buf[..], &src[10..50]);
        assert!(calls > 6, "the transfer was not short");
    }

    #[test]
    fn read_past_end_is_unexpected_eof() {
        let mut buf = [0_u8; 8];
        let err = read_exact_with(&mut buf, 0, |b, off| {
            Ok(if off < 4 { b.len().min(4) } else { 0 })
        })
        .expect_err("must fail");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn short_writes_are_completed_and_zero_progress_is_an_error() {
        let mut dst = [0_u8; 64];
        write_all_with(&[9; 30], 5, |b, off| {
            let n = b.len().min(4);
            dst[off as usize..off as usize + n].copy_from_slice(&b[..n]);
            Ok(n)
        })
        .expect("write");
        assert!(dst[5..35].iter().all(|&b| b == 9));
        assert_eq!(dst[35], 0);
        let err = write_all_with(&[1], 0, |_, _| Ok(0)).expect_err("must fail");
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    }
}
