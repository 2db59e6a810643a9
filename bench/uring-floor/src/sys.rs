//! The raw socket calls both loops share: the listener, socket options, closing, and how a
//! connection's error is reported.

use std::io;
use std::os::fd::RawFd;

/// What one read (or `Recv`) asks for, as Redis's PROTO_IOBUF_LEN.
pub const READ_LEN: usize = 16 * 1024;

pub fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

pub fn set_int_opt(fd: RawFd, level: libc::c_int, opt: libc::c_int) -> io::Result<()> {
    let one: libc::c_int = 1;
    let len = size_of::<libc::c_int>() as libc::socklen_t;
    cvt(unsafe { libc::setsockopt(fd, level, opt, (&raw const one).cast(), len) }).map(drop)
}

/// A non-blocking listener on 127.0.0.1:`port`, SO_REUSEADDR, backlog 511 (as Redis).
pub fn listen(port: u16) -> io::Result<RawFd> {
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
pub fn complain(conn: usize, e: &io::Error) {
    use io::ErrorKind::{BrokenPipe, ConnectionReset, UnexpectedEof};
    if !matches!(e.kind(), UnexpectedEof | ConnectionReset | BrokenPipe) {
        eprintln!("uring-floor: connection {conn}: {e}");
    }
}

pub fn close(fd: RawFd) {
    unsafe { libc::close(fd) };
}
