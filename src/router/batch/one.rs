//! A run of one request: what every run of a client that waits for each reply is. It is
//! placed and answered as a longer run's request is ([`super`]), with one call per
//! backend instead of per-backend groups and their lists.

use std::sync::Arc;

use futures_util::future::join_all;
use tokio::time::Instant;

use super::{place_item, take_answer};
use crate::protocol::Reply;
use crate::protocol::binary::RequestFrame;
use crate::router::Router;
use crate::router::backend::Backend;
use crate::router::run::{Item, Op};

impl Router {
    /// A run of one request (every run of a client that waits for each reply): placed
    /// and answered as in a longer run, without its per-backend groups.
    pub(in crate::router) async fn send_one(&self, item: Item) -> Reply {
        let started = Instant::now();
        let run = self.run_settings();
        let how = run.placing();
        let mut sends = Sends::None;
        let mut place = {
            let mut rng = rand::thread_rng();
            let version = match item.op {
                Op::Write { .. } if how.writes => self.inner.hlc.now_run(1).0,
                _ => 0,
            };
            let mut add = |b, write, frame| sends.push(b, write, frame);
            place_item(&item, &how, version, &mut rng, &mut add)
        };
        let (mut reply, mut earlier) = (None, None);
        let mut take = |backend, result| match take_answer(backend, &mut place, result) {
            Ok(answer) => reply = reply.take().or(answer),
            Err(e) => earlier = Some(e),
        };
        match sends {
            Sends::None => {}
            Sends::One(b, write, frame) => {
                take(b, b.call(frame, run.deadline(started, write)).await)
            }
            Sends::Many(list) => {
                let backends: Vec<_> = list.iter().map(|(b, ..)| *b).collect();
                let calls = list.into_iter().map(|(b, w, f)| b.call(f, run.deadline(started, w)));
                let results = join_all(calls).await;
                backends.into_iter().zip(results).for_each(|(b, r)| take(b, r));
            }
        }
        match self.settle(started.elapsed(), &run, &item, &place, reply) {
            Some(reply) => reply,
            // Boxed: the rare path's state stays out of every run's future.
            None => Box::pin(self.alone(item, earlier, started)).await,
        }
    }
}

/// Where a run of one request is sent: mostly one backend, so no list.
enum Sends<'a> {
    None,
    One(&'a Arc<Backend>, bool, RequestFrame),
    Many(Vec<(&'a Arc<Backend>, bool, RequestFrame)>),
}

impl<'a> Sends<'a> {
    fn push(&mut self, backend: &'a Arc<Backend>, write: bool, frame: RequestFrame) {
        *self = match std::mem::replace(self, Sends::None) {
            Sends::None => Sends::One(backend, write, frame),
            Sends::One(b, w, f) => Sends::Many(vec![(b, w, f), (backend, write, frame)]),
            Sends::Many(mut list) => {
                list.push((backend, write, frame));
                Sends::Many(list)
            }
        };
    }
}
