//! Map agreement: whether the peers apply the map this node applies, from the map hash in
//! their NODE_STATUS. Nodes on different maps stay safe (takeovers fence each other, see
//! `handover.rs`) but work badly: a shard they both hold by their own map changes
//! coordinator every few ticks, and routers on either map send some commands where the
//! other map says they do not belong. A new map reaches every node within a few seconds
//! (each watches its file or URL); a disagreement that lasts longer is an operator's
//! mistake (a node started with another file, a file edited on one machine only), so it is
//! logged as a warning that names the peer, then again every [`MAP_WARN_EVERY`] while it
//! lasts, and once more when it ends. STATS counts the peers disagreeing now
//! (`map_peers_disagreeing`), and while any does, coordinator hand-offs log at debug
//! instead of info (they repeat every few ticks).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a peer may apply another map before a warning: longer than a map takes to
/// reach every node.
pub const MAP_WARN_AFTER: Duration = Duration::from_secs(10);
/// Pause between two warnings about the same peer.
pub const MAP_WARN_EVERY: Duration = Duration::from_secs(60);

/// One peer's disagreement: its map's hash, since when, and the last warning about it.
#[derive(Debug, Clone, Copy)]
struct Apart {
    theirs: u64,
    since: Instant,
    warned: Option<Instant>,
}

/// What a check found worth a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapEvent {
    /// `peer` has applied the map hashed `theirs` (this node: `mine`) for `apart`.
    Disagrees { peer: String, theirs: u64, mine: u64, apart: Duration },
    /// `peer`, warned about before, now applies this node's map (or none, or left the map).
    Agrees { peer: String },
}

/// The peers that apply another map than this node, by name.
#[derive(Debug, Default)]
pub struct MapAgreement {
    apart: HashMap<String, Apart>,
}

impl MapAgreement {
    /// Takes in one poll of the peers: `(name, hash of its map)` of each peer that answered
    /// (a hash of 0: it follows no map, and is left out); `mine` are the hashes of this
    /// node's map (its placement's, then one an older node reports: either agrees).
    /// A peer known to disagree that did not answer stays as it was, unwarned about.
    pub fn observe<'a>(
        &mut self,
        mine: [u64; 2],
        peers: impl IntoIterator<Item = (&'a str, Option<u64>)>,
        now: Instant,
    ) -> Vec<MapEvent> {
        let mut events = Vec::new();
        let mut still = HashMap::new();
        for (peer, theirs) in peers {
            let Some(theirs) = theirs else {
                if let Some(a) = self.apart.remove(peer) {
                    still.insert(peer.to_owned(), a);
                }
                continue;
            };
            if theirs == 0 || mine.contains(&theirs) {
                continue;
            }
            let mut a = match self.apart.remove(peer) {
                Some(a) if a.theirs == theirs => a,
                _ => Apart { theirs, since: now, warned: None },
            };
            let apart = now.saturating_duration_since(a.since);
            let due = a.warned.map_or(apart >= MAP_WARN_AFTER, |w| now - w >= MAP_WARN_EVERY);
            if due {
                a.warned = Some(now);
                let mine = mine[0];
                events.push(MapEvent::Disagrees { peer: peer.to_owned(), theirs, mine, apart });
            }
            still.insert(peer.to_owned(), a);
        }
        for (peer, a) in self.apart.drain() {
            if a.warned.is_some() {
                events.push(MapEvent::Agrees { peer });
            }
        }
        self.apart = still;
        events
    }

    /// Peers that applied another map when they last answered.
    pub fn disagreeing(&self) -> usize {
        self.apart.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_on_another_map_is_warned_about_after_a_while_then_rarely_then_once_agreed() {
        let mut m = MapAgreement::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let peers = [("b", Some(2)), ("c", Some(1)), ("d", Some(0)), ("e", Some(9))];
        assert!(m.observe([1, 9], peers, at(0)).is_empty());
        assert_eq!(m.disagreeing(), 1, "b applies another map; c, e (older) the same; d none");
        assert!(
            m.observe([1, 9], [("b", Some(2))], at(9)).is_empty(),
            "maps take a while to spread"
        );
        let warned = m.observe([1, 9], [("b", Some(2))], at(10));
        let expected =
            MapEvent::Disagrees { peer: "b".into(), theirs: 2, mine: 1, apart: at(10) - at(0) };
        assert_eq!(warned, vec![expected]);
        assert!(
            m.observe([1, 9], [("b", Some(2))], at(30)).is_empty(),
            "not again within a minute"
        );
        assert!(
            m.observe([1, 9], [("b", None)], at(70)).is_empty(),
            "not while it does not answer"
        );
        assert_eq!(m.disagreeing(), 1, "its last answer still counts");
        assert_eq!(m.observe([1, 9], [("b", Some(2))], at(71)).len(), 1, "again a minute later");
        let agreed = m.observe([1, 9], [("b", Some(1))], at(72));
        assert_eq!(agreed, vec![MapEvent::Agrees { peer: "b".into() }]);
        assert_eq!(m.disagreeing(), 0);
    }

    #[test]
    fn a_peer_moving_to_yet_another_map_starts_over_and_one_never_warned_about_ends_quietly() {
        let mut m = MapAgreement::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        m.observe([1, 9], [("b", Some(2))], at(0));
        assert!(m.observe([1, 9], [("b", Some(3))], at(10)).is_empty(), "a new map: its own grace");
        assert_eq!(m.observe([1, 9], [("b", Some(3))], at(20)).len(), 1);
        m.observe([1, 9], [("b", Some(3)), ("c", Some(2))], at(21));
        let events = m.observe([1, 9], [("b", Some(3)), ("c", Some(1))], at(22));
        assert!(events.is_empty(), "c was never warned about: {events:?}");
    }
}
