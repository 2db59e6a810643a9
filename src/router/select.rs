//! Choosing which replica serves a read: uniformly at random among healthy replicas, or
//! power of two choices on load. [`next_replica`] is the failover loop's step: each call
//! picks among replicas not yet tried, so every replica is tried at most once.

use std::sync::Arc;

use rand::Rng;
use rand::seq::SliceRandom;

use super::backend::Backend;

/// Scores within this fraction of each other count as equal, so equal replicas still
/// split load evenly under P2C instead of following latency noise.
pub const P2C_TIE_BAND: f64 = 0.2;

/// Replicas of a shard a pick handles without allocating; more are fine, on the heap.
const INLINE_REPLICAS: usize = 16;

/// How reads pick a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadPolicy {
    /// Uniformly at random among healthy replicas.
    #[default]
    Random,
    /// Power of two choices on EWMA latency x (in flight + 1) / weight.
    P2c,
}

impl std::str::FromStr for ReadPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "random" => Ok(ReadPolicy::Random),
            "p2c" => Ok(ReadPolicy::P2c),
            other => Err(format!("unknown read policy '{other}' (use random or p2c)")),
        }
    }
}

/// Picks the next replica to try, or `None` when every eligible one was tried. `tried`
/// names the replicas tried by index; past its end, none was.
///
/// Eligible: not yet tried, and `usable` (up, and caught up on the key); when no replica of
/// the shard is usable, those that are only `caught_up` (the health verdict may be wrong:
/// try them rather than fail). A replica that is not caught up (it has writes queued for it,
/// or is not ready) is never read: a stale answer is worse than an error.
pub fn next_replica<R: Rng>(
    policy: ReadPolicy,
    replicas: &[Arc<Backend>],
    tried: &[bool],
    usable: impl Fn(&Backend) -> bool,
    caught_up: impl Fn(&Backend) -> bool,
    rng: &mut R,
) -> Option<usize> {
    // Every read picks here: the scratch lists live on the stack for any real shard.
    let n = replicas.len();
    let (mut ok_inline, mut eligible_inline) = ([false; INLINE_REPLICAS], [0; INLINE_REPLICAS]);
    let (mut ok_heap, mut eligible_heap) = (Vec::new(), Vec::new());
    let (ok, eligible): (&mut [bool], &mut [usize]) = if n <= INLINE_REPLICAS {
        (&mut ok_inline[..n], &mut eligible_inline[..n])
    } else {
        ok_heap.resize(n, false);
        eligible_heap.resize(n, 0);
        (&mut ok_heap, &mut eligible_heap)
    };
    for (ok, b) in ok.iter_mut().zip(replicas) {
        *ok = usable(b);
    }
    let none_usable = !ok.contains(&true);
    let mut count = 0;
    for i in 0..n {
        if !tried.get(i).copied().unwrap_or(false)
            && (ok[i] || (none_usable && caught_up(&replicas[i])))
        {
            eligible[count] = i;
            count += 1;
        }
    }
    let eligible = &eligible[..count];
    match (policy, eligible.len()) {
        (_, 0) => None,
        (_, 1) => Some(eligible[0]),
        (ReadPolicy::Random, _) => eligible.choose(rng).copied(),
        (ReadPolicy::P2c, _) => {
            let mut two = eligible.choose_multiple(rng, 2).copied();
            let (a, b) = (two.next()?, two.next()?);
            let (sa, sb) = (replicas[a].load_score(), replicas[b].load_score());
            if (sa - sb).abs() <= P2C_TIE_BAND * sa.max(sb) {
                Some(if rng.gen_bool(0.5) { a } else { b })
            } else if sa < sb {
                Some(a)
            } else {
                Some(b)
            }
        }
    }
}

/// [`next_replica`] before any replica was tried: a read's first pick.
pub fn first_replica<R: Rng>(
    policy: ReadPolicy,
    replicas: &[Arc<Backend>],
    usable: impl Fn(&Backend) -> bool,
    caught_up: impl Fn(&Backend) -> bool,
    rng: &mut R,
) -> Option<usize> {
    next_replica(policy, replicas, &[], usable, caught_up, rng)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::client::ConnectionConfig;
    use crate::router::health::{Failure, HealthConfig};

    fn up(b: &Backend) -> bool {
        !b.health().is_ejected()
    }

    fn any(_: &Backend) -> bool {
        true
    }

    fn backends(n: usize) -> Vec<Arc<Backend>> {
        (0..n)
            .map(|i| {
                let cfg = ConnectionConfig::default();
                let addr = format!("127.0.0.1:{}", 1000 + i);
                let settings = crate::router::topology::BackendSettings {
                    pool_size: 1,
                    workers: 0,
                    conn: cfg,
                    health: HealthConfig::default(),
                    hlc: Arc::new(crate::version::Hlc::new(1)),
                    hints: Default::default(),
                };
                Arc::new(Backend::new(&format!("n{i}"), addr, 1, &settings))
            })
            .collect()
    }

    #[test]
    fn each_replica_is_tried_at_most_once() {
        let mut rng = StdRng::seed_from_u64(1);
        for policy in [ReadPolicy::Random, ReadPolicy::P2c] {
            let bs = backends(4);
            let mut tried = vec![false; 4];
            for _ in 0..4 {
                let i = next_replica(policy, &bs, &tried, up, any, &mut rng).expect("one left");
                assert!(!tried[i]);
                tried[i] = true;
            }
            assert_eq!(next_replica(policy, &bs, &tried, up, any, &mut rng), None);
        }
    }

    #[test]
    fn ejected_replicas_are_skipped_unless_all_are() {
        let mut rng = StdRng::seed_from_u64(2);
        let bs = backends(3);
        bs[0].health().record_failure(Failure::Refused);
        bs[2].health().record_failure(Failure::Refused);
        for _ in 0..20 {
            assert_eq!(
                next_replica(ReadPolicy::Random, &bs, &[false; 3], up, any, &mut rng),
                Some(1)
            );
        }
        assert_eq!(
            next_replica(ReadPolicy::Random, &bs, &[false, true, false], up, any, &mut rng),
            None
        );
        bs[1].health().record_failure(Failure::Refused);
        assert!(
            next_replica(ReadPolicy::Random, &bs, &[false; 3], up, any, &mut rng).is_some(),
            "fail open"
        );
    }

    #[test]
    fn a_replica_missing_writes_is_never_the_fallback() {
        let mut rng = StdRng::seed_from_u64(4);
        let bs = backends(2);
        bs[0].health().record_failure(Failure::Refused);
        bs[1].health().record_failure(Failure::Refused);
        bs[1].hints().push(1, b"k", Some(b"v"), None, 5);
        let caught_up = |b: &Backend| b.caught_up(1, b"k");
        for _ in 0..20 {
            let pick = next_replica(ReadPolicy::Random, &bs, &[false; 2], up, caught_up, &mut rng);
            assert_eq!(pick, Some(0), "only the replica with nothing queued");
        }
        bs[0].hints().mark_stale(1);
        let pick = next_replica(ReadPolicy::Random, &bs, &[false; 2], up, caught_up, &mut rng);
        assert_eq!(pick, None, "none is up to date: refuse rather than read stale");
    }

    #[test]
    fn equal_replicas_split_evenly_under_both_policies() {
        let mut rng = StdRng::seed_from_u64(3);
        for policy in [ReadPolicy::Random, ReadPolicy::P2c] {
            let bs = backends(2);
            let mut counts = [0; 2];
            for _ in 0..1000 {
                counts[next_replica(policy, &bs, &[false; 2], up, any, &mut rng).expect("some")] +=
                    1;
            }
            assert!((400..=600).contains(&counts[0]), "{policy:?}: {counts:?}");
        }
    }

    #[test]
    fn policy_parses() {
        assert_eq!("p2c".parse(), Ok(ReadPolicy::P2c));
        assert!("rr".parse::<ReadPolicy>().is_err());
    }
}
