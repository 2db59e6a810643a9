//! A small min-cost max-flow (successive shortest paths, Bellman-Ford), for the planner's
//! graphs of a few hundred vertices. Not for hot paths.

/// A flow network; edges are added in pairs (forward, residual).
#[derive(Debug, Default)]
pub(super) struct Flow {
    to: Vec<usize>,
    cap: Vec<i64>,
    cost: Vec<i64>,
    out: Vec<Vec<usize>>,
}

impl Flow {
    /// A network of `vertices` vertices and no edges.
    pub(super) fn new(vertices: usize) -> Self {
        Self { out: vec![Vec::new(); vertices], ..Self::default() }
    }

    /// Adds an edge `a -> b`; returns its id for [`Flow::flow_on`].
    pub(super) fn edge(&mut self, a: usize, b: usize, cap: i64, cost: i64) -> usize {
        let id = self.to.len();
        for (x, y, c, k) in [(a, b, cap, cost), (b, a, 0, -cost)] {
            self.out[x].push(self.to.len());
            self.to.push(y);
            self.cap.push(c);
            self.cost.push(k);
        }
        id
    }

    /// The flow on edge `id` after [`Flow::run`].
    pub(super) fn flow_on(&self, id: usize) -> i64 {
        self.cap[id ^ 1]
    }

    /// Sends as much as possible from `src` to `sink` at least cost; returns (flow, cost).
    pub(super) fn run(&mut self, src: usize, sink: usize) -> (i64, i64) {
        let (mut flow, mut total) = (0, 0);
        while let Some((dist, via)) = self.shortest(src, sink) {
            let mut push = i64::MAX;
            let mut v = sink;
            while v != src {
                push = push.min(self.cap[via[v]]);
                v = self.to[via[v] ^ 1];
            }
            let mut v = sink;
            while v != src {
                self.cap[via[v]] -= push;
                self.cap[via[v] ^ 1] += push;
                v = self.to[via[v] ^ 1];
            }
            flow += push;
            total += push * dist;
        }
        (flow, total)
    }

    /// The cheapest path with room left, as its cost and each vertex's incoming edge.
    fn shortest(&self, src: usize, sink: usize) -> Option<(i64, Vec<usize>)> {
        let n = self.out.len();
        let mut dist = vec![i64::MAX; n];
        let mut via = vec![usize::MAX; n];
        dist[src] = 0;
        // Bellman-Ford: at most n - 1 rounds without negative cycles (there are none in a
        // residual graph of a min-cost flow).
        for _ in 0..n {
            let mut changed = false;
            for v in 0..n {
                if dist[v] == i64::MAX {
                    continue;
                }
                for &e in &self.out[v] {
                    let d = dist[v] + self.cost[e];
                    if self.cap[e] > 0 && d < dist[self.to[e]] {
                        dist[self.to[e]] = d;
                        via[self.to[e]] = e;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        (dist[sink] != i64::MAX).then_some((dist[sink], via))
    }
}
