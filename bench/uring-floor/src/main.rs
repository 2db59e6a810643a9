//! uring-floor: a measurement tool for `bench/uring-floor.sh`, not a server.
//!
//! It answers redis-benchmark's SET, GET, PING and CONFIG from constants, storing nothing,
//! so the CPU it spends per request is (close to) the floor any Redis-protocol server pays
//! for the I/O interface alone on loopback. Two shapes of one single-threaded loop:
//!
//! - `--mode epoll` copies Redis's ae loop: level-triggered `epoll_wait(-1)`, one 16 KiB
//!   `read` per readable connection, replies buffered, and after all of the wait's events one
//!   `write` per connection with output (Redis's beforeSleep), EPOLLOUT only on a short write.
//! - `--mode uring` runs on io_uring (SINGLE_ISSUER, DEFER_TASKRUN and COOP_TASKRUN when the
//!   kernel takes them, `--plain-ring` to do without): a multishot accept, one `Recv` in
//!   flight per connection, a `Send` of its replies, one `io_uring_enter` per loop turn.
//!
//! Usage: `uring-floor --mode epoll|uring --port P [--plain-ring]` (listens on 127.0.0.1).

use io_uring::{IoUring, cqueue, opcode, squeue, types::Fd};
use std::io;
use std::os::fd::RawFd;

/// What one read (or `Recv`) asks for, as Redis's PROTO_IOBUF_LEN.
const READ_LEN: usize = 16 * 1024;
/// A command's header line, or an inline command, longer than this is malformed.
const MAX_LINE: usize = 64 * 1024;
const MAX_ARGS: i64 = 1024 * 1024;
const MAX_BULK: i64 = 1024 * 1024;
/// A connection holding more unparsed input than this is dropped.
const MAX_INPUT: usize = 16 * 1024 * 1024;
/// A GET hit on redis-benchmark's `-d 32` value.
const GET_REPLY: &[u8] = b"$32\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut mode, mut port, mut plain) = (None, None, false);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--mode" => mode = it.next().cloned(),
            "--port" => port = it.next().and_then(|p| p.parse::<u16>().ok()),
            "--plain-ring" => plain = true,
            _ => mode = None,
        }
    }
    let (Some(mode), Some(port)) = (mode, port) else {
        eprintln!("usage: uring-floor --mode epoll|uring --port P [--plain-ring]");
        std::process::exit(2);
    };
    let result = listen(port).and_then(|listener| match mode.as_str() {
        "epoll" => run_epoll(listener),
        "uring" => run_uring(listener, plain),
        _ => Err(io::Error::other(format!("unknown mode {mode}"))),
    });
    if let Err(e) = result {
        eprintln!("uring-floor: {e}");
        std::process::exit(1);
    }
}

// ---- protocol ----------------------------------------------------------------------------

/// Input that is not RESP2 (or an inline command) as redis-benchmark and redis-cli send it.
struct Malformed;

/// Answers every complete command at the start of `buf`, appending the replies to `out`, and
/// returns how many bytes those commands took: the rest is the start of an incomplete one.
fn serve(buf: &[u8], out: &mut Vec<u8>) -> Result<usize, Malformed> {
    let mut pos = 0;
    while let Some((used, name)) = command(&buf[pos..])? {
        pos += used;
        let Some(name) = name else { continue };
        out.extend_from_slice(match name {
            n if n.eq_ignore_ascii_case(b"SET") => b"+OK\r\n",
            n if n.eq_ignore_ascii_case(b"GET") => GET_REPLY,
            n if n.eq_ignore_ascii_case(b"PING") => b"+PONG\r\n",
            n if n.eq_ignore_ascii_case(b"CONFIG") => b"*0\r\n",
            _ => b"-ERR unknown command\r\n",
        });
    }
    Ok(pos)
}

/// The first command in a buffer: its length and name (None for an empty one, which gets no
/// reply, as in Redis), or None if it is not all there yet.
type Command<'a> = Result<Option<(usize, Option<&'a [u8]>)>, Malformed>;

fn command(buf: &[u8]) -> Command<'_> {
    match buf.first() {
        None => Ok(None),
        Some(b'*') => multibulk(buf),
        Some(_) => {
            let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
                return if buf.len() > MAX_LINE { Err(Malformed) } else { Ok(None) };
            };
            let name = buf[..nl].split(|b| b.is_ascii_whitespace()).find(|w| !w.is_empty());
            Ok(Some((nl + 1, name)))
        }
    }
}

/// `*N\r\n` then N times `$len\r\n<len bytes>\r\n`.
fn multibulk(buf: &[u8]) -> Command<'_> {
    let Some((count, mut pos)) = header(buf, 0)? else { return Ok(None) };
    if count > MAX_ARGS {
        return Err(Malformed);
    }
    let mut name = None;
    for i in 0..count {
        match buf.get(pos) {
            None => return Ok(None),
            Some(b'$') => {}
            Some(_) => return Err(Malformed),
        }
        let Some((len, start)) = header(buf, pos)? else { return Ok(None) };
        if len > MAX_BULK {
            return Err(Malformed);
        }
        let end = start + len as usize;
        match buf.get(end..end + 2) {
            None => return Ok(None),
            Some(b"\r\n") => {}
            Some(_) => return Err(Malformed),
        }
        if i == 0 {
            name = Some(&buf[start..end]);
        }
        pos = end + 2;
    }
    Ok(Some((pos, name)))
}

/// The number of the `*N\r\n` or `$len\r\n` line at `at`, and where the line ends.
fn header(buf: &[u8], at: usize) -> Result<Option<(i64, usize)>, Malformed> {
    let line = &buf[at + 1..];
    let Some(cr) = line.iter().take(MAX_LINE).position(|&b| b == b'\r') else {
        return if line.len() > MAX_LINE { Err(Malformed) } else { Ok(None) };
    };
    match line.get(cr + 1) {
        None => return Ok(None),
        Some(b'\n') => {}
        Some(_) => return Err(Malformed),
    }
    let digits = &line[..cr]; // no negative counts or lengths: no client sends them
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Malformed);
    }
    let n = digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    Ok(Some((n, at + 1 + cr + 2)))
}

// ---- sockets -----------------------------------------------------------------------------

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

fn set_int_opt(fd: RawFd, level: libc::c_int, opt: libc::c_int) -> io::Result<()> {
    let one: libc::c_int = 1;
    let len = size_of::<libc::c_int>() as libc::socklen_t;
    cvt(unsafe { libc::setsockopt(fd, level, opt, (&raw const one).cast(), len) }).map(drop)
}

/// A non-blocking listener on 127.0.0.1:`port`, SO_REUSEADDR, backlog 511 (as Redis).
fn listen(port: u16) -> io::Result<RawFd> {
    let flags = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, flags, 0) })?;
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR)?;
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be() },
        sin_zero: [0; 8],
    };
    let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    cvt(unsafe { libc::bind(fd, (&raw const addr).cast(), len) })?;
    cvt(unsafe { libc::listen(fd, 511) })?;
    Ok(fd)
}

/// Reports a connection's error on stderr, unless it is only the peer going away.
fn complain(conn: usize, e: &io::Error) {
    use io::ErrorKind::{BrokenPipe, ConnectionReset, UnexpectedEof};
    if !matches!(e.kind(), UnexpectedEof | ConnectionReset | BrokenPipe) {
        eprintln!("uring-floor: connection {conn}: {e}");
    }
}

fn close(fd: RawFd) {
    unsafe { libc::close(fd) };
}

// ---- epoll: Redis's ae loop ------------------------------------------------------------

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

fn run_epoll(listener: RawFd) -> io::Result<()> {
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

/// Serves the complete commands in `input`, keeping the rest for the next read.
fn consume(input: &mut Vec<u8>, output: &mut Vec<u8>) -> io::Result<()> {
    let used = serve(input, output).map_err(|_| io::Error::other("malformed request"))?;
    input.drain(..used);
    if input.len() > MAX_INPUT {
        return Err(io::Error::other("request too large"));
    }
    Ok(())
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

// ---- io_uring ----------------------------------------------------------------------------

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

fn run_uring(listener: RawFd, plain: bool) -> io::Result<()> {
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
