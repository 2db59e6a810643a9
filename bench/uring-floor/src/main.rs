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

mod epoll;
mod resp;
mod sys;
mod uring;

use std::io;

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
    let result = sys::listen(port).and_then(|listener| match mode.as_str() {
        "epoll" => epoll::run(listener),
        "uring" => uring::run(listener, plain),
        _ => Err(io::Error::other(format!("unknown mode {mode}"))),
    });
    if let Err(e) = result {
        eprintln!("uring-floor: {e}");
        std::process::exit(1);
    }
}
