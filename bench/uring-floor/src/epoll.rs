//! `--mode epoll`: Redis's ae loop. Level-triggered `epoll_wait(-1)`, one read per readable
//! connection, and after all of a wait's events one write per connection with output (Redis's
//! beforeSleep), EPOLLOUT only after a short write.

use std::io;
use std::os::fd::RawFd;

use crate::resp::consume;
use crate::sys::{READ_LEN, close, complain, cvt, set_int_opt};

#[derive(Default)]
struct EpollConn {
    input: Vec<u8>,
    output: Vec<u8>,
    /// In this turn's list of connections to write to.
    queued: bool,
    /// Registered for EPOLLOUT after a short write.
    want_out: bool,
}

fn epoll_ctl(ep: RawFd, op: libc::c_int, fd: RawFd, events: libc::c_int) -> io::Result<()> {
    let mut ev = libc::epoll_event { events: events as u32, u64: fd as u64 };
    cvt(unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) }).map(drop)
}

pub fn run(listener: RawFd) -> io::Result<()> {
    let ep = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    epoll_ctl(ep, libc::EPOLL_CTL_ADD, listener, libc::EPOLLIN)?;
    let mut conns: Vec<Option<EpollConn>> = Vec::new(); // by fd, as Redis's clients
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut to_write: Vec<RawFd> = Vec::new();
    loop {
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in &events[..n as usize] {
            let (fd, flags) = (ev.u64 as RawFd, ev.events as libc::c_int);
            if fd == listener {
                while let Some(fd) = accept(listener) {
                    let slot = fd as usize;
                    if conns.len() <= slot {
                        conns.resize_with(slot + 1, || None);
                    }
                    match epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN) {
                        Ok(()) => conns[slot] = Some(EpollConn::default()),
                        Err(e) => drop_conn(&mut conns, fd, &e),
                    }
                }
                continue;
            }
            let Some(c) = conns.get_mut(fd as usize).and_then(Option::as_mut) else { continue };
            if flags & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP) != 0 {
                if let Err(e) = read_and_serve(fd, c) {
                    drop_conn(&mut conns, fd, &e);
                    continue;
                }
                if !c.output.is_empty() && !c.queued && !c.want_out {
                    c.queued = true;
                    to_write.push(fd);
                }
            }
            if flags & libc::EPOLLOUT != 0
                && c.want_out
                && let Err(e) = flush(ep, fd, c)
            {
                drop_conn(&mut conns, fd, &e);
            }
        }
        // beforeSleep: one write per connection that has output.
        for fd in to_write.drain(..) {
            let Some(c) = conns.get_mut(fd as usize).and_then(Option::as_mut) else { continue };
            c.queued = false;
            if let Err(e) = flush(ep, fd, c) {
                drop_conn(&mut conns, fd, &e);
            }
        }
    }
}

/// The next connection waiting on the non-blocking listener, non-blocking, TCP_NODELAY.
fn accept(listener: RawFd) -> Option<RawFd> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    let fd = match cvt(unsafe {
        libc::accept4(listener, std::ptr::null_mut(), std::ptr::null_mut(), flags)
    }) {
        Ok(fd) => fd,
        Err(e) => {
            if e.kind() != io::ErrorKind::WouldBlock {
                eprintln!("uring-floor: accept: {e}");
            }
            return None;
        }
    };
    if let Err(e) = set_int_opt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY) {
        eprintln!("uring-floor: TCP_NODELAY: {e}");
    }
    Some(fd)
}

/// Closes `fd` after an error (or its peer's EOF).
fn drop_conn(conns: &mut [Option<EpollConn>], fd: RawFd, e: &io::Error) {
    complain(fd as usize, e);
    if let Some(slot) = conns.get_mut(fd as usize) {
        *slot = None;
    }
    close(fd);
}

fn read_and_serve(fd: RawFd, c: &mut EpollConn) -> io::Result<()> {
    c.input.reserve(READ_LEN);
    let spare = c.input.spare_capacity_mut();
    let n = unsafe { libc::read(fd, spare.as_mut_ptr().cast(), READ_LEN) };
    if n < 0 {
        return try_again(io::Error::last_os_error());
    } else if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    unsafe { c.input.set_len(c.input.len() + n as usize) };
    consume(&mut c.input, &mut c.output)
}

/// One `write` of `c`'s output, with EPOLLOUT registered while some is left (Redis's
/// write handler).
fn flush(ep: RawFd, fd: RawFd, c: &mut EpollConn) -> io::Result<()> {
    let n = unsafe { libc::write(fd, c.output.as_ptr().cast(), c.output.len()) };
    if n < 0 {
        try_again(io::Error::last_os_error())?;
    } else {
        c.output.drain(..n as usize);
    }
    let want_out = !c.output.is_empty();
    if want_out != c.want_out {
        c.want_out = want_out;
        let events = if c.want_out { libc::EPOLLIN | libc::EPOLLOUT } else { libc::EPOLLIN };
        epoll_ctl(ep, libc::EPOLL_CTL_MOD, fd, events)?;
    }
    Ok(())
}

/// Ok for the errors a non-blocking socket's next readiness cures.
fn try_again(e: io::Error) -> io::Result<()> {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(()),
        _ => Err(e),
    }
}
