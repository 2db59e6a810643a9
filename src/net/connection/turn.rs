//! One turn's request handling for [`super::Conn`]: decoding buffered requests a run at a
//! time, showing each run to [`Handler::prepare`], handing each request to the handler
//! (with the session's observer around it) and encoding the replies that are ready.

use std::time::Instant;

use tokio_util::codec::Decoder;
use tracing::debug;

use super::{Conn, End, Turn};
use crate::cmd::Command;
use crate::codec::{CodecError, Dialect, Inbound, Shape, encode_outbound};
use crate::net::observe::reply_shape;
use crate::net::{Handler, MAX_BATCH, PREPARE_RUN, tally};
use crate::protocol::Reply;

impl<H: Handler> Conn<'_, H> {
    /// Decodes and dispatches buffered requests, a run at a time, until none is complete,
    /// the batch cap is hit, or pending work reaches its limits. Replies that are ready at
    /// once are encoded straight into the output buffer.
    /// `now` is when the bytes being handled arrived: the first request's start for the
    /// slow log, and the time CLIENT LIST's activity is stamped with. Also returns how many
    /// requests the turn handled.
    pub(super) fn process(&mut self, now: Instant) -> (Turn, usize) {
        let mut run = std::mem::take(&mut self.run);
        let mut handled = 0;
        let mut clock = Some(now);
        self.observer.begin_turn();
        let turn = loop {
            if handled >= MAX_BATCH {
                break Turn::More;
            }
            if !self.has_room() {
                break Turn::Drained;
            }
            let decoded = self.decode_run(&mut run);
            handled += run.len();
            self.handler.prepare(&run);
            if self.dispatch(&mut run, &mut clock) {
                break Turn::Close(End::Quit);
            }
            match decoded {
                Ok(true) => {}
                Ok(false) => break Turn::Drained,
                Err(e) => break Turn::Close(self.codec_failed(e)),
            }
        };
        self.run = run;
        self.handler.end_turn(&mut self.session);
        self.stats.commands.add(handled as u64);
        if handled > 0 {
            let at = clock.unwrap_or(now);
            self.observer.publish(&self.session, at, &self.rbuf, &self.wbuf);
        }
        (turn, handled)
    }

    /// Decodes up to [`PREPARE_RUN`] requests into `run`, stopping after a QUIT; `Ok(true)`
    /// if more may be buffered. Before authentication a run is one request, because AUTH
    /// lifts the size limits the next request is decoded under.
    fn decode_run(&mut self, run: &mut Vec<Inbound>) -> Result<bool, CodecError> {
        let cap = if self.pre_auth { 1 } else { PREPARE_RUN };
        while run.len() < cap {
            let Some(inbound) = self.codec.decode(&mut self.rbuf)? else {
                return Ok(false);
            };
            let quit = matches!(inbound.command, Ok(Command::Quit(_)));
            run.push(inbound);
            self.argvs.push(self.codec.take_argv());
            if quit {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Hands a run to the handler in order; `true` if it ended with QUIT. The slow log
    /// times a request from the end of the one before when that is known (`clock`), so
    /// consecutive timed requests cost one clock read each; `O(1)` commands are not timed
    /// at the default threshold (see [`crate::cmd::slowlog::SLOWLOG_TIME_ALL_BELOW`]).
    fn dispatch(&mut self, run: &mut Vec<Inbound>, clock: &mut Option<Instant>) -> bool {
        if !self.session.binary && self.codec.dialect() == Some(Dialect::Binary) {
            self.session.binary = true;
        }
        let mut argvs = std::mem::take(&mut self.argvs);
        let mut quit = false;
        let tally = &self.stats.by_command;
        // The metrics' clock: one read per request, each starting when the one before was
        // handed over.
        let mut now = tally::now();
        for (Inbound { id, shape, command }, argv) in run.drain(..).zip(argvs.drain(..)) {
            quit = matches!(command, Ok(Command::Quit(_)));
            let spec = command.as_ref().ok().map(Command::full_spec);
            let timing = tally.start_spec(spec, now, &mut self.memo);
            let (shape, ready) = match command {
                Ok(Command::Quit(_)) => {
                    (shape, self.inflight.push_ready(id, shape, timing, Reply::Ok))
                }
                Ok(cmd) => {
                    let pending = self.observer.before(&cmd, argv.is_some(), *clock, &self.session);
                    self.session.tx.note_request(argv.as_ref());
                    let fut = self.handler.call_argv(&mut self.session, cmd, argv.as_ref());
                    self.lift_pre_auth_limits();
                    let (shape, at) =
                        self.observer.after(pending, argv.as_ref(), &mut self.session, shape);
                    // An untimed request ends the chain: the next timed one reads the clock.
                    *clock = at;
                    (shape, self.inflight.push(id, shape, timing, fut))
                }
                Err(e) => {
                    *clock = None;
                    let shape = reply_shape(&mut self.session, shape);
                    // Inside MULTI: queued as that command's reply, or failing the transaction.
                    let reply = self.session.tx.refuse(e);
                    (shape, self.inflight.push_ready(id, shape, timing, reply))
                }
            };
            now = tally::now();
            if let Some(reply) = ready {
                tally.finish(timing, &reply, now);
                self.encode(id, shape, &reply);
            }
            if quit {
                break;
            }
        }
        argvs.clear();
        self.argvs = argvs;
        quit
    }

    /// Once the handler has authenticated the session, the next request may be full size.
    fn lift_pre_auth_limits(&mut self) {
        if self.pre_auth && self.session.authenticated {
            self.pre_auth = false;
            self.codec.set_limits(self.cfg.limits);
        }
    }

    pub(super) fn encode(&mut self, id: u32, shape: Shape, reply: &Reply) {
        encode_outbound(id, shape, reply, self.session.resp3, &mut self.wbuf);
    }

    fn codec_failed(&mut self, err: CodecError) -> End {
        match err {
            CodecError::Fatal { status, message } => {
                debug!(%message, "closing after protocol error");
                self.last_words = Some((status, message));
                End::Fatal
            }
            CodecError::CrossProtocol => {
                tracing::warn!(peer = %self.session.peer, "cross-protocol request, closing");
                self.wbuf.clear();
                End::CrossProtocol
            }
            CodecError::Io(_) => End::Io,
        }
    }
}
