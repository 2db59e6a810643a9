//! `--mode uring`: the same work on io_uring. A multishot accept, one `Recv` in flight per
//! connection, a `Send` of its replies, and one `io_uring_enter` per loop turn.

use std::io;
use std::os::fd::RawFd;

use io_uring::{IoUring, cqueue, opcode, squeue, types::Fd};

use crate::resp::consume;
use crate::sys::{READ_LEN, close, complain, set_int_opt};

// user_data: the connection's slot << 2 | the operation.
const ACCEPT: u64 = 0;
const RECV: u64 = 1;
const SEND: u64 = 2;

#[derive(Default)]
struct UringConn {
    fd: RawFd,
    /// Unparsed input; a `Recv` in flight writes into its spare capacity.
    input: Vec<u8>,
    /// The output a `Send` in flight is sending (from `sent` on), untouched until it completes.
    sending: Vec<u8>,
    sent: usize,
    /// Replies built while a `Send` was in flight.
    next: Vec<u8>,
    recv_in_flight: bool,
    send_in_flight: bool,
    closing: bool,
}

fn ring(plain: bool) -> io::Result<IoUring> {
    if !plain {
        let fast = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_coop_taskrun()
            .build(4096);
        match fast {
            Ok(ring) => {
                eprintln!("uring-floor: ring: SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN");
                return Ok(ring);
            }
            Err(e) => eprintln!("uring-floor: ring flags refused ({e}), plain ring"),
        }
    }
    eprintln!("uring-floor: ring: plain");
    IoUring::new(4096)
}

/// Queues `entry`, submitting first if the submission queue is full.
fn push(ring: &mut IoUring, entry: squeue::Entry) -> io::Result<()> {
    while unsafe { ring.submission().push(&entry) }.is_err() {
        ring.submit()?;
    }
    Ok(())
}

fn accept_entry(listener: RawFd, multishot: bool) -> squeue::Entry {
    let fd = Fd(listener);
    let entry = if multishot {
        opcode::AcceptMulti::new(fd).flags(libc::SOCK_CLOEXEC).build()
    } else {
        let (addr, len) = (std::ptr::null_mut(), std::ptr::null_mut());
        opcode::Accept::new(fd, addr, len).flags(libc::SOCK_CLOEXEC).build()
    };
    entry.user_data(ACCEPT)
}

fn recv_entry(slot: usize, c: &mut UringConn) -> squeue::Entry {
    c.input.reserve(READ_LEN);
    let buf = c.input.spare_capacity_mut().as_mut_ptr().cast();
    c.recv_in_flight = true;
    opcode::Recv::new(Fd(c.fd), buf, READ_LEN as u32).build().user_data((slot as u64) << 2 | RECV)
}

fn send_entry(slot: usize, c: &mut UringConn) -> squeue::Entry {
    let rest = &c.sending[c.sent..];
    c.send_in_flight = true;
    let send = opcode::Send::new(Fd(c.fd), rest.as_ptr(), rest.len() as u32);
    send.flags(libc::MSG_NOSIGNAL).build().user_data((slot as u64) << 2 | SEND)
}

pub fn run(listener: RawFd, plain: bool) -> io::Result<()> {
    let mut ring = ring(plain)?;
    let mut multishot = true;
    push(&mut ring, accept_entry(listener, multishot))?;
    // Slots are never reused, so a late completion can never reach another connection.
    let mut conns: Vec<Option<UringConn>> = Vec::new();
    let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(1024);
    loop {
        if let Err(e) = ring.submitter().submit_and_wait(1) {
            match e.raw_os_error() {
                Some(libc::EINTR | libc::EBUSY | libc::EAGAIN) => {}
                _ => return Err(e),
            }
        }
        cqes.clear();
        cqes.extend(ring.completion().map(|c| (c.user_data(), c.result(), c.flags())));
        for &(user_data, res, flags) in &cqes {
            let (slot, op) = ((user_data >> 2) as usize, user_data & 3);
            if op == ACCEPT {
                if res >= 0 {
                    if let Err(e) = set_int_opt(res, libc::IPPROTO_TCP, libc::TCP_NODELAY) {
                        eprintln!("uring-floor: TCP_NODELAY: {e}");
                    }
                    let mut c = UringConn { fd: res, ..UringConn::default() };
                    push(&mut ring, recv_entry(conns.len(), &mut c))?;
                    conns.push(Some(c));
                } else if multishot && res == -libc::EINVAL {
                    eprintln!("uring-floor: no multishot accept, single accepts");
                    multishot = false;
                } else {
                    eprintln!("uring-floor: accept: {}", io::Error::from_raw_os_error(-res));
                }
                if !cqueue::more(flags) {
                    push(&mut ring, accept_entry(listener, multishot))?;
                }
                continue;
            }
            let Some(c) = conns.get_mut(slot).and_then(Option::as_mut) else { continue };
            if op == RECV {
                c.recv_in_flight = false;
            } else {
                c.send_in_flight = false;
            }
            let mut recv_again = false;
            if res <= 0 || c.closing {
                if res < 0 {
                    complain(slot, &io::Error::from_raw_os_error(-res));
                }
                c.closing = true;
            } else if op == RECV {
                unsafe { c.input.set_len(c.input.len() + res as usize) };
                match consume(&mut c.input, &mut c.next) {
                    Ok(()) => recv_again = true,
                    Err(e) => {
                        complain(slot, &e);
                        c.closing = true;
                    }
                }
            } else {
                c.sent += res as usize;
                if c.sent == c.sending.len() {
                    c.sending.clear();
                    c.sent = 0;
                }
            }
            if !c.send_in_flight && !c.closing {
                if c.sending.is_empty() {
                    std::mem::swap(&mut c.sending, &mut c.next);
                }
                if !c.sending.is_empty() {
                    push(&mut ring, send_entry(slot, c))?; // new replies, or a short send's rest
                }
            }
            if recv_again {
                push(&mut ring, recv_entry(slot, c))?;
            }
            if c.closing {
                if c.recv_in_flight {
                    // Wakes the Recv (it completes with 0); the fd closes when nothing is in flight.
                    unsafe { libc::shutdown(c.fd, libc::SHUT_RDWR) };
                } else if !c.send_in_flight {
                    close(c.fd);
                    conns[slot] = None;
                }
            }
        }
    }
}
