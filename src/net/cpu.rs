//! What the kernel says about CPU time, for the decisions a worker makes about its own
//! CPU use: the busy-poll spinner (did this thread wait for a core?) and the connection
//! balancer (how much of a core did this worker use; are the machine's cores idle?).
//! Linux only (`/proc`); elsewhere every reading is `None` and neither ever acts.

use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;

thread_local! {
    static SCHEDSTAT: RefCell<Option<File>> = const { RefCell::new(None) };
}

/// This thread's scheduler times: nanoseconds run, and nanoseconds waited on a run queue
/// (runnable, not running). The file stays open for the thread's life: one `pread` a call.
pub fn thread_times() -> Option<(u64, u64)> {
    SCHEDSTAT.with(|f| {
        let mut f = f.borrow_mut();
        if f.is_none() {
            *f = Some(File::open("/proc/thread-self/schedstat").ok()?);
        }
        let mut buf = [0u8; 96];
        let n = f.as_ref()?.read_at(&mut buf, 0).ok()?;
        let mut fields = std::str::from_utf8(&buf[..n]).ok()?.split_whitespace();
        Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
    })
}

/// The machine's CPU time so far, all cores together, in the kernel's ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineTimes {
    /// Ticks of every kind.
    pub total: u64,
    /// Ticks idle or waiting for I/O.
    pub idle: u64,
    /// Cores counted.
    pub cores: u32,
}

impl MachineTimes {
    /// Reads `/proc/stat`.
    pub fn now() -> Option<Self> {
        Self::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    fn parse(stat: &str) -> Option<Self> {
        let mut lines = stat.lines();
        let all = lines.next()?.strip_prefix("cpu ")?;
        let ticks: Vec<u64> = all.split_whitespace().map_while(|t| t.parse().ok()).collect();
        let cores = lines.filter(|l| l.starts_with("cpu")).count();
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let total = ticks.iter().take(8).sum();
        let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
        Some(Self { total, idle, cores: u32::try_from(cores).ok().filter(|&c| c > 0)? })
    }

    /// Cores' worth of idle time per unit of time between `earlier` and `self`.
    pub fn idle_cores_since(&self, earlier: &Self) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total).filter(|&t| t > 0)?;
        let idle = self.idle.checked_sub(earlier.idle)?;
        Some(idle as f64 / total as f64 * f64::from(self.cores))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_thread_and_the_machine_report_their_cpu_time() {
        // Linux with schedstat (every kernel shale runs on here); elsewhere spinning is
        // never throttled and connections are never moved, which this would flag.
        assert!(thread_times().is_some());
        assert!(MachineTimes::now().is_some());
    }

    #[test]
    fn idle_cores_come_from_the_idle_and_iowait_ticks() {
        let a = MachineTimes::parse("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1\ncpu1 1\nintr 5")
            .unwrap();
        assert_eq!(a, MachineTimes { total: 1000, idle: 800, cores: 2 });
        let b = MachineTimes { total: 2000, idle: 1300, cores: 2 };
        assert_eq!(b.idle_cores_since(&a), Some(1.0));
        assert_eq!(a.idle_cores_since(&a), None, "no time passed");
        assert_eq!(MachineTimes::parse("intr 5"), None);
    }
}
