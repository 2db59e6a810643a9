//! A connection's output after each turn: the replies encoded as they complete, when they
//! are written (at once for a lone reply, after the worker's round for a pipeline), the
//! output limits, and when a closing connection's last words are out.

use futures_util::FutureExt as _;
use tokio::time::Instant;

use super::{Conn, End, Io, LoopState, Stream, Turn};
use crate::net::inflight::Done;
use crate::net::{Handler, MAX_IN_FLIGHT};

impl<H: Handler> Conn<'_, H> {
    /// The work of a turn before waiting: handle what was read, enforce the output limit,
    /// flush a lone reply, and end a closing connection once its output is out. `Err` ends
    /// the connection.
    pub(super) fn prepare<S: Stream>(
        &mut self,
        st: &mut LoopState,
        io: &mut Io<S>,
    ) -> Result<(), End> {
        if st.closing.is_none() && self.has_room() {
            let was_idle = self.wbuf.is_empty();
            let (turn, handled) = self.process(st.clock.last_read.into_std());
            match turn {
                Turn::Drained => st.more = false,
                Turn::More => st.more = true,
                Turn::Close(end) => st.closing = Some(end),
            }
            if was_idle && !self.wbuf.is_empty() {
                // The output-stall clock starts when output becomes pending.
                st.clock.last_write = Instant::now();
                let answered = self.inflight.is_empty();
                st.flush_now = answered && handled <= 1;
                st.flush_after_round = answered && handled > 1;
            }
        }
        if self.wbuf.len() > self.cfg.output_hard_limit {
            return Err(End::OutputLimit);
        }
        // A request/response client's reply goes out at once, without another turn through
        // the select (which would only find the socket writable). A pipelining client's
        // replies wait for the end of the worker's round (a yield), as Redis writes replies
        // just before it sleeps: written at once, each connection's replies reach a client
        // that serves many connections from one thread (as redis-benchmark does) spread
        // out by the processing of the next connection's requests, and wake it each time;
        // written after the round, they reach it together, and waking it is one cost for
        // them all (measured in bench/RESULTS.md).
        let flushed = std::mem::take(&mut st.flush_now).then(|| io.try_flush(&mut self.wbuf));
        self.stats.bytes_out.add(io.take_written());
        if flushed == Some(false) {
            return Err(End::Io);
        }
        if let Some(end) = st.closing {
            if self.inflight.is_empty() {
                if let Some((status, msg)) = self.last_words.take() {
                    self.codec.encode_fatal(status, &msg, &mut self.wbuf);
                }
                if io.is_flushed(&self.wbuf) {
                    return Err(end);
                }
            }
        }
        Ok(())
    }

    /// Encodes every in-flight reply that is already complete, in order.
    pub(super) fn drain_ready(&mut self) {
        while self.wbuf.len() < self.cfg.output_soft_limit {
            match self.inflight.next().now_or_never() {
                Some(Some(done)) => self.finish(done),
                _ => break,
            }
        }
    }

    /// Counts a request that completed in flight and encodes its reply.
    pub(super) fn finish(&mut self, (id, shape, reply, timing, at): Done) {
        self.stats.by_command.finish(timing, &reply, at);
        self.encode(id, shape, &reply);
    }

    /// Whether there is room to take on more requests.
    pub(super) fn has_room(&self) -> bool {
        self.wbuf.len() < self.cfg.output_soft_limit && self.inflight.len() < MAX_IN_FLIGHT
    }
}
