//! Which of a connection's timeouts applies next: output stalled, a slow frame, or idle
//! (the server's `timeout` setting when the handler has services).

use tokio::time::Instant;

use super::{Clock, Conn, End};
use crate::net::Handler;

impl<H: Handler> Conn<'_, H> {
    /// The earliest deadline that applies now, and which one it is; `None` when none
    /// does.
    pub(super) fn deadline(
        &self,
        reading: bool,
        mid_frame: bool,
        c: &Clock,
    ) -> Option<(Instant, End)> {
        let mut best: Option<(Instant, End)> = None;
        let mut consider = |at: Instant, why: End| {
            if best.is_none_or(|(b, _)| at < b) {
                best = Some((at, why));
            }
        };
        if !self.wbuf.is_empty() {
            consider(c.last_write + self.cfg.output_timeout, End::OutputStalled);
        }
        if reading && mid_frame {
            consider(c.frame_start + self.cfg.frame_timeout, End::SlowFrame);
        } else if reading && self.inflight.is_empty() && !self.observer.monitoring() {
            let idle = match self.handler.services() {
                Some(services) => services.idle_timeout(),
                None => self.cfg.idle_timeout,
            };
            if let Some(idle) = idle {
                consider(c.last_read.max(c.last_write) + idle, End::Idle);
            }
        }
        best
    }
}
