//! [`Config`]: the parameters CONFIG GET shows and CONFIG SET changes, each a name with a
//! getter and (when it can change at run time) a setter wired to the real setting. The
//! server and the router each build their own table; the commands and Redis's error texts
//! are shared here.
//!
//! A setter is called twice per CONFIG SET: first to check the value (`apply = false`),
//! then, once every parameter of the call checked out, to apply it, so a CONFIG SET with
//! one bad value changes nothing.

use bytes::Bytes;

use super::ctx::Services;
use super::glob;
use crate::protocol::ErrorReply;
use crate::protocol::text::parse_i64;

type Getter = Box<dyn Fn() -> String + Send + Sync>;
type Setter = Box<dyn Fn(&[u8], bool) -> Result<(), String> + Send + Sync>;

/// One parameter.
pub struct Param {
    name: &'static str,
    get: Getter,
    set: Option<Setter>,
    /// Settable but never shown (a password).
    hidden: bool,
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Param")
            .field("name", &self.name)
            .field("mutable", &self.set.is_some())
            .finish()
    }
}

/// A table of parameters, in the order they were added.
#[derive(Debug, Default)]
pub struct Config {
    params: Vec<Param>,
}

impl Config {
    /// Adds a parameter that CONFIG SET refuses (`can't set immutable config`).
    pub fn fixed(
        mut self,
        name: &'static str,
        get: impl Fn() -> String + Send + Sync + 'static,
    ) -> Self {
        self.params.push(Param { name, get: Box::new(get), set: None, hidden: false });
        self
    }

    /// Adds a parameter CONFIG SET may change; `set(value, apply)` checks the value and,
    /// when `apply`, puts it into effect. Its error is the reason Redis would give.
    pub fn mutable(
        mut self,
        name: &'static str,
        get: impl Fn() -> String + Send + Sync + 'static,
        set: impl Fn(&[u8], bool) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.params.push(Param {
            name,
            get: Box::new(get),
            set: Some(Box::new(set)),
            hidden: false,
        });
        self
    }

    /// Adds a parameter CONFIG SET may change but CONFIG GET never shows.
    pub fn secret(
        mut self,
        name: &'static str,
        set: impl Fn(&[u8], bool) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        let get = Box::new(String::new);
        self.params.push(Param { name, get, set: Some(Box::new(set)), hidden: true });
        self
    }

    /// Continues this table with getters and setters that are plain functions of one
    /// shared state `ctx`.
    pub fn bound<T: Send + Sync + 'static>(self, ctx: std::sync::Arc<T>) -> Bound<T> {
        Bound { ctx, config: self }
    }

    /// The parameters every process has: its `port`, `databases`, `cluster-enabled`, the
    /// persistence stubs, and the connection limits and slow log settings kept in
    /// [`Services`].
    pub fn shared(services: std::sync::Arc<Services>, port: u16) -> Config {
        let no_disk = || "shale keeps nothing on disk".to_owned();
        Config::default()
            .fixed("port", move || port.to_string())
            .fixed("databases", || "1".to_owned())
            .fixed("cluster-enabled", || "no".to_owned())
            .mutable(
                "save",
                String::new,
                move |v, _| if v.is_empty() { Ok(()) } else { Err(no_disk()) },
            )
            .mutable(
                "appendonly",
                || "no".to_owned(),
                move |v, _| match parse_bool(v)? {
                    false => Ok(()),
                    true => Err(no_disk()),
                },
            )
            .bound(services)
            .int(
                "maxclients",
                1,
                i64::from(u32::MAX),
                |s| i64::try_from(s.maxclients()).unwrap_or(i64::MAX),
                |s, n| s.set_maxclients(usize::try_from(n).unwrap_or(usize::MAX)),
            )
            .int("timeout", 0, i64::from(i32::MAX), Services::idle_secs, |s, n| {
                let secs = u64::try_from(n).unwrap_or(0);
                s.set_idle_timeout((secs > 0).then(|| std::time::Duration::from_secs(secs)))
            })
            .int(
                "slowlog-log-slower-than",
                -1,
                i64::MAX,
                |s| s.slowlog.slower_than_us(),
                |s, n| s.slowlog.set_slower_than_us(n),
            )
            .int(
                "slowlog-max-len",
                0,
                i64::MAX,
                |s| i64::try_from(s.slowlog.max_len()).unwrap_or(i64::MAX),
                |s, n| s.slowlog.set_max_len(usize::try_from(n).unwrap_or(usize::MAX)),
            )
            .build()
    }

    /// Names of every shown parameter.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.params.iter().filter(|p| !p.hidden).map(|p| p.name)
    }

    /// The current value of `name` (exact, case-insensitive), unless it is hidden.
    pub fn value(&self, name: &str) -> Option<String> {
        self.find(name.as_bytes()).filter(|p| !p.hidden).map(|p| (p.get)())
    }

    fn find(&self, name: &[u8]) -> Option<&Param> {
        self.params.iter().find(|p| name.eq_ignore_ascii_case(p.name.as_bytes()))
    }

    /// CONFIG GET: name/value pairs of every parameter some pattern matches, each once.
    pub fn get(&self, patterns: &[Bytes]) -> Vec<(&'static str, String)> {
        self.params
            .iter()
            .filter(|p| !p.hidden)
            .filter(|p| patterns.iter().any(|pat| glob::matches(pat, p.name.as_bytes(), true)))
            .map(|p| (p.name, (p.get)()))
            .collect()
    }

    /// CONFIG SET: checks every pair, then applies them all, with Redis's errors.
    pub fn set(&self, pairs: &[(Bytes, Bytes)]) -> Result<(), ErrorReply> {
        let mut seen: Vec<&'static str> = Vec::with_capacity(pairs.len());
        let mut checked = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let Some(param) = self.find(name) else {
                let shown = String::from_utf8_lossy(name);
                return Err(ErrorReply::invalid(format!(
                    "Unknown option or number of arguments for CONFIG SET - '{shown}'"
                )));
            };
            let failed = |why: &str| {
                ErrorReply::invalid(format!(
                    "CONFIG SET failed (possibly related to argument '{}') - {why}",
                    param.name
                ))
            };
            if seen.contains(&param.name) {
                return Err(failed("duplicate parameter"));
            }
            seen.push(param.name);
            let Some(set) = &param.set else {
                return Err(failed("can't set immutable config"));
            };
            set(value, false).map_err(|why| failed(&why))?;
            checked.push((set, value));
        }
        for (set, value) in checked {
            // Checked above; a setter that fails now has nothing to say that the check did not.
            let _ = set(value, true);
        }
        Ok(())
    }
}

/// Builds a [`Config`] from plain functions of one shared state (see [`Config::bound`]).
#[derive(Debug)]
pub struct Bound<T> {
    ctx: std::sync::Arc<T>,
    config: Config,
}

impl<T: Send + Sync + 'static> Bound<T> {
    /// [`Config::fixed`] with a getter of the state.
    pub fn fixed(mut self, name: &'static str, get: fn(&T) -> String) -> Self {
        let c = self.ctx.clone();
        self.config = self.config.fixed(name, move || get(&c));
        self
    }

    /// [`Config::mutable`] with a getter and a setter of the state.
    pub fn mutable(
        mut self,
        name: &'static str,
        get: fn(&T) -> String,
        set: fn(&T, &[u8], bool) -> Result<(), String>,
    ) -> Self {
        let (g, s) = (self.ctx.clone(), self.ctx.clone());
        self.config = self.config.mutable(name, move || get(&g), move |v, apply| set(&s, v, apply));
        self
    }

    /// An integer parameter in `min..=max` (Redis's errors outside it), read and set
    /// through the state.
    pub fn int(
        self,
        name: &'static str,
        min: i64,
        max: i64,
        get: fn(&T) -> i64,
        set: fn(&T, i64),
    ) -> Self {
        let (g, s) = (self.ctx.clone(), self.ctx.clone());
        let config = self.config.mutable(
            name,
            move || get(&g).to_string(),
            move |v, apply| {
                let n = parse_int(v, min, max)?;
                if apply {
                    set(&s, n);
                }
                Ok(())
            },
        );
        Bound { ctx: self.ctx, config }
    }

    /// [`Config::secret`] with a setter of the state.
    pub fn secret(
        mut self,
        name: &'static str,
        set: fn(&T, &[u8], bool) -> Result<(), String>,
    ) -> Self {
        let s = self.ctx.clone();
        self.config = self.config.secret(name, move |v, apply| set(&s, v, apply));
        self
    }

    /// The table.
    pub fn build(self) -> Config {
        self.config
    }
}

/// A memory value as Redis reads one: digits with an optional unit (`b`, `k` = 1000,
/// `kb` = 1024, `m`, `mb`, `g`, `gb`, any case).
pub fn parse_memory(v: &[u8]) -> Result<u64, String> {
    let bad = || "argument must be a memory value".to_owned();
    let text = std::str::from_utf8(v).map_err(|_| bad())?.to_ascii_lowercase();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err(bad()),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(mul).ok_or_else(bad)
}

/// An integer within `min..=max`, with Redis's two messages.
pub fn parse_int(v: &[u8], min: i64, max: i64) -> Result<i64, String> {
    let n = parse_i64(v).ok_or_else(|| "argument couldn't be parsed into an integer".to_owned())?;
    if !(min..=max).contains(&n) {
        return Err(format!("argument must be between {min} and {max} inclusive"));
    }
    Ok(n)
}

/// One of `allowed` (case-insensitive), returned lower-cased.
pub fn parse_enum(v: &[u8], allowed: &[&'static str]) -> Result<&'static str, String> {
    allowed
        .iter()
        .find(|a| v.eq_ignore_ascii_case(a.as_bytes()))
        .copied()
        .ok_or_else(|| format!("argument(s) must be one of the following: {}", allowed.join(", ")))
}

/// `yes` or `no`.
pub fn parse_bool(v: &[u8]) -> Result<bool, String> {
    match parse_enum(v, &["yes", "no"]) {
        Ok(word) => Ok(word == "yes"),
        Err(_) => Err("argument must be 'yes' or 'no'".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;

    fn table() -> (Config, Arc<AtomicI64>) {
        let n = Arc::new(AtomicI64::new(5));
        let (g, s) = (n.clone(), n.clone());
        let cfg = Config::default().fixed("port", || "7379".to_owned()).mutable(
            "timeout",
            move || g.load(Ordering::Relaxed).to_string(),
            move |v, apply| {
                let v = parse_int(v, 0, 100)?;
                if apply {
                    s.store(v, Ordering::Relaxed);
                }
                Ok(())
            },
        );
        (cfg, n)
    }

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn get_matches_globs_once_each() {
        let (cfg, _) = table();
        assert_eq!(
            cfg.get(&[b("*"), b("port")]),
            [("port", "7379".to_owned()), ("timeout", "5".to_owned())]
        );
        assert_eq!(cfg.get(&[b("TIME*")]), [("timeout", "5".to_owned())]);
        assert!(cfg.get(&[b("nope")]).is_empty());
    }

    #[test]
    fn set_is_all_or_nothing_with_redis_errors() {
        let (cfg, n) = table();
        let err =
            |pairs: &[(Bytes, Bytes)]| cfg.set(pairs).expect_err("refused").message.into_owned();
        assert_eq!(
            err(&[(b("nope"), b("1"))]),
            "Unknown option or number of arguments for CONFIG SET - 'nope'"
        );
        assert_eq!(
            err(&[(b("port"), b("1"))]),
            "CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
        );
        assert_eq!(
            err(&[(b("timeout"), b("7")), (b("TIMEOUT"), b("8"))]),
            "CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter"
        );
        assert_eq!(
            err(&[(b("timeout"), b("101"))]),
            "CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 100 inclusive"
        );
        assert_eq!(n.load(Ordering::Relaxed), 5, "nothing applied");
        cfg.set(&[(b("timeout"), b("9"))]).expect("valid");
        assert_eq!(cfg.value("TIMEOUT").as_deref(), Some("9"));
    }

    #[test]
    fn value_parsers() {
        assert_eq!(parse_memory(b"100mb"), Ok(100 * 1024 * 1024));
        assert_eq!(parse_memory(b"2K"), Ok(2000));
        assert_eq!(parse_memory(b"0"), Ok(0));
        assert!(parse_memory(b"abc").is_err() && parse_memory(b"-1").is_err());
        assert_eq!(parse_bool(b"YES"), Ok(true));
        assert_eq!(
            parse_enum(b"x", &["a", "b"]),
            Err("argument(s) must be one of the following: a, b".into())
        );
        assert_eq!(
            parse_int(b"x", 0, 1),
            Err("argument couldn't be parsed into an integer".into())
        );
    }
}
