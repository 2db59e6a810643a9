//! [`Spec`]: what a command declares about itself — name, arity, Redis flag words, ACL
//! categories, key positions ([`KeySpec`], in `keyspec.rs`), routing class ([`Route`]) and
//! docs — and the derived views Redis clients ask for (`movablekeys`).
//!
//! Everything here is `const` data, so a declaration is checked at compile time and costs
//! nothing at run time. Owns no behaviour beyond reading the declaration.

use super::keyspec::{KeySpec, Legacy};

/// A command's static declaration. Build one with [`Spec::new`] and the `const` setters.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Lower-case name as Redis prints it; a subcommand is `container|sub` (`config|get`).
    pub name: &'static str,
    /// Redis arity, counting the name (and, for a subcommand, the container's name):
    /// `n` exactly n arguments, `-n` at least n.
    pub arity: i32,
    /// Redis command flags.
    pub flags: &'static [Flag],
    /// ACL categories (`@read`, `@string`, ...), as COMMAND INFO lists them.
    pub acl: &'static [&'static str],
    /// Redis command tips (`request_policy:multi_shard`, `nondeterministic_output`, ...).
    pub tips: &'static [&'static str],
    /// Where the keys are in the argument vector.
    pub keys: &'static [KeySpec],
    /// How a router runs the command (see [`Route`]); a command whose class depends on its
    /// arguments declares the most demanding one here and refines it in `Cmd::route`.
    pub route: Route,
    /// COMMAND DOCS `group`: `string`, `generic`, `connection`, `server`, or `shale` for
    /// shale's own commands.
    pub group: &'static str,
    /// COMMAND DOCS `since`: the Redis version that introduced it (shale's for its own).
    pub since: &'static str,
    /// COMMAND DOCS `complexity`.
    pub complexity: &'static str,
    /// COMMAND DOCS `summary`.
    pub summary: &'static str,
    /// Subcommands of a container command (CONFIG, CLIENT, COMMAND, SLOWLOG).
    pub subcommands: &'static [Spec],
}

impl Spec {
    /// A declaration with no flags, keys, tips or docs, routed as [`Route::Connection`].
    pub const fn new(name: &'static str, arity: i32) -> Self {
        Self {
            name,
            arity,
            flags: &[],
            acl: &[],
            tips: &[],
            keys: &[],
            route: Route::Connection,
            group: "server",
            since: "1.0.0",
            complexity: "O(1)",
            summary: "",
            subcommands: &[],
        }
    }

    /// Sets the flags.
    pub const fn flags(mut self, flags: &'static [Flag]) -> Self {
        self.flags = flags;
        self
    }

    /// Sets the ACL categories.
    pub const fn acl(mut self, acl: &'static [&'static str]) -> Self {
        self.acl = acl;
        self
    }

    /// Sets the tips.
    pub const fn tips(mut self, tips: &'static [&'static str]) -> Self {
        self.tips = tips;
        self
    }

    /// Sets the key specs.
    pub const fn keys(mut self, keys: &'static [KeySpec]) -> Self {
        self.keys = keys;
        self
    }

    /// Sets the routing class.
    pub const fn route(mut self, route: Route) -> Self {
        self.route = route;
        self
    }

    /// Sets the docs: group, since, complexity and summary.
    pub const fn docs(
        mut self,
        group: &'static str,
        since: &'static str,
        complexity: &'static str,
        summary: &'static str,
    ) -> Self {
        self.group = group;
        self.since = since;
        self.complexity = complexity;
        self.summary = summary;
        self
    }

    /// Sets the subcommands.
    pub const fn subcommands(mut self, subs: &'static [Spec]) -> Self {
        self.subcommands = subs;
        self
    }

    /// Whether `n` arguments (name included) satisfy the arity.
    pub fn admits(&self, n: usize) -> bool {
        let want = self.arity.unsigned_abs() as usize;
        if self.arity >= 0 { n == want } else { n >= want }
    }

    /// Whether the declaration carries `flag` (or Redis would compute it: `movablekeys`).
    pub fn has(&self, flag: Flag) -> bool {
        self.flags.contains(&flag) || (flag == Flag::MovableKeys && self.legacy_keys().movable)
    }

    /// The flag words COMMAND INFO lists: the declared ones, plus `movablekeys` when the
    /// key specs cannot be summed up as one first/last/step range.
    pub fn flag_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        let movable = self.legacy_keys().movable && !self.flags.contains(&Flag::MovableKeys);
        self.flags.iter().map(|f| f.name()).chain(movable.then_some(Flag::MovableKeys.name()))
    }

    /// The subcommand called `sub` (case-insensitive), by the part after the `|`.
    pub fn subcommand(&self, sub: &[u8]) -> Option<&'static Spec> {
        self.subcommands.iter().find(|s| {
            let short = s.name.rsplit('|').next().unwrap_or(s.name);
            sub.eq_ignore_ascii_case(short.as_bytes())
        })
    }

    /// Whether the declared complexity is `O(1)`: such a command cannot take long on its
    /// own, which the slow log relies on (see [`crate::cmd::slowlog::SLOWLOG_TIME_ALL_BELOW`]).
    pub fn constant_time(&self) -> bool {
        self.complexity == "O(1)"
    }

    /// Redis's legacy first/last/step key range, computed from the key specs exactly as
    /// Redis does (`populateCommandLegacyRangeSpec`).
    pub fn legacy_keys(&self) -> Legacy {
        Legacy::of(self.keys)
    }
}

/// Redis command flag words (COMMAND INFO spells them in lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    /// May modify the keyspace.
    Write,
    /// Reads the keyspace without modifying it.
    ReadOnly,
    /// May grow memory use: refused when over `maxmemory`.
    DenyOom,
    /// Administrative: hidden from MONITOR.
    Admin,
    /// Pub/sub related.
    PubSub,
    /// Not allowed in scripts.
    NoScript,
    /// May block the client.
    Blocking,
    /// Allowed while loading the dataset.
    Loading,
    /// Allowed on a replica with stale data.
    Stale,
    /// Never shown by MONITOR.
    SkipMonitor,
    /// Never recorded by SLOWLOG.
    SkipSlowlog,
    /// O(1) or O(log N): never blocks the server for long.
    Fast,
    /// Allowed before authentication.
    NoAuth,
    /// May be replicated although it does not always write.
    MayReplicate,
    /// Keys are not all at fixed positions.
    MovableKeys,
    /// Not allowed inside MULTI.
    NoMulti,
    /// Allowed while a script is busy.
    AllowBusy,
    /// Refused while a replica loads its dataset asynchronously.
    NoAsyncLoading,
}

impl Flag {
    /// The Redis word.
    pub fn name(self) -> &'static str {
        match self {
            Flag::Write => "write",
            Flag::ReadOnly => "readonly",
            Flag::DenyOom => "denyoom",
            Flag::Admin => "admin",
            Flag::PubSub => "pubsub",
            Flag::NoScript => "noscript",
            Flag::Blocking => "blocking",
            Flag::Loading => "loading",
            Flag::Stale => "stale",
            Flag::SkipMonitor => "skip_monitor",
            Flag::SkipSlowlog => "skip_slowlog",
            Flag::Fast => "fast",
            Flag::NoAuth => "no_auth",
            Flag::MayReplicate => "may_replicate",
            Flag::MovableKeys => "movablekeys",
            Flag::NoMulti => "no_multi",
            Flag::AllowBusy => "allow_busy",
            Flag::NoAsyncLoading => "no_async_loading",
        }
    }
}

/// How a router runs a command: the classes a router must treat differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Answered by whoever holds the client connection (PING, HELLO, CONFIG, INFO, ...).
    Connection,
    /// Reads one key: any healthy replica may answer.
    Read,
    /// A blind write of one key whose result does not depend on the old value: fanned out
    /// to every replica as a versioned write.
    Write,
    /// Reads and writes one key: runs on one coordinator replica, whose outcome is then
    /// replicated (INCR, APPEND, SET NX, EXPIRE, ...).
    ReadModifyWrite,
    /// Several keys, split by shard, sent concurrently, merged by `merge`.
    Split {
        /// How the per-shard replies combine.
        merge: Merge,
    },
    /// Several keys that must share a shard; otherwise `-CROSSSHARD`.
    SameShard,
    /// Runs on every shard (one replica each), replies merged by `merge`.
    AllShards {
        /// How the per-shard replies combine.
        merge: Merge,
    },
    /// Node-to-node or router-to-node operations (versioned writes, shard dumps).
    Internal,
    /// A connection's transaction state (MULTI, EXEC, DISCARD, WATCH, UNWATCH): runs where
    /// the data is, with every queued command's keys on that node.
    Transaction,
}

/// How a split or all-shards command's replies combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// One reply per key, put back in the client's key order (MGET).
    InKeyOrder,
    /// `+OK` when every part answered OK (MSET, FLUSHALL).
    AllOk,
    /// The integers added up (DEL, EXISTS, DBSIZE).
    Sum,
    /// The arrays concatenated (KEYS).
    Concat,
    /// A cursor walk over the shards in turn (SCAN).
    Cursor,
    /// Any one non-nil reply (RANDOMKEY).
    Any,
    /// The smallest integer (WAIT).
    Min,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arity() {
        assert!(Spec::new("get", 2).admits(2));
        assert!(!Spec::new("get", 2).admits(3));
        assert!(Spec::new("del", -2).admits(5));
        assert!(!Spec::new("del", -2).admits(1));
    }
}
