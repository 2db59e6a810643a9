//! Key positions as Redis 7 declares them: [`KeySpec`]s (where the search begins, how keys
//! are found, what the command does with them), the key positions they find in an argument
//! vector (COMMAND GETKEYS), and the legacy first/last/step range derived from them.

/// One key spec, as Redis 7 declares them: where the search for keys begins, how the keys
/// are found from there, and what the command does with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Redis's note on the spec, if any (COMMAND INFO shows it).
    pub notes: &'static str,
    /// What the command does with these keys.
    pub flags: &'static [KeyFlag],
    /// Where the search begins.
    pub begin: Begin,
    /// How keys are found from there.
    pub find: Find,
}

impl KeySpec {
    /// Keys from index `first`: `lastkey` relative to it (negative: from the end), every
    /// `step`-th argument. GET is `range(1, 0, 1, ..)`, MSET `range(1, -1, 2, ..)`.
    pub const fn range(first: i32, lastkey: i32, step: i32, flags: &'static [KeyFlag]) -> Self {
        let find = Find::Range { lastkey, step, limit: 0 };
        Self { notes: "", flags, begin: Begin::Index(first), find }
    }

    /// Adds Redis's note.
    pub const fn notes(mut self, notes: &'static str) -> Self {
        self.notes = notes;
        self
    }

    /// The keys the spec finds in `argv` (which starts with the command name), as indices,
    /// or `None` when the arguments do not hold them (too few, a bad key count).
    pub fn positions(&self, argv: &[impl AsRef<[u8]>]) -> Option<Vec<usize>> {
        let argc = i64::try_from(argv.len()).ok()?;
        let first = match self.begin {
            Begin::Index(i) => i64::from(i),
            Begin::Keyword { keyword, startfrom } => {
                let hit = keyword_index(argv, keyword, startfrom)?;
                i64::try_from(hit).ok()? + 1
            }
        };
        let (first, last, step) = match self.find {
            Find::Range { lastkey, step, limit } => {
                let last = if lastkey >= 0 {
                    first + i64::from(lastkey)
                } else if limit <= 1 {
                    argc + i64::from(lastkey)
                } else {
                    first + (argc - first) / i64::from(limit) + i64::from(lastkey)
                };
                (first, last, i64::from(step))
            }
            Find::KeyNum { keynumidx, firstkey, step } => {
                let at = usize::try_from(first + i64::from(keynumidx)).ok()?;
                let n = crate::protocol::text::parse_i64(argv.get(at)?.as_ref())?;
                if n < 0 {
                    return None;
                }
                let start = first + i64::from(firstkey);
                (start, start + (n - 1) * i64::from(step), i64::from(step))
            }
        };
        if first > last {
            return Some(Vec::new());
        }
        if last >= argc || step < 1 || first < 1 {
            return None;
        }
        let idx = (first..=last).step_by(usize::try_from(step).ok()?);
        idx.map(|i| usize::try_from(i).ok()).collect()
    }
}

fn keyword_index(argv: &[impl AsRef<[u8]>], keyword: &str, startfrom: i32) -> Option<usize> {
    let n = argv.len();
    let found = |i: &usize| argv[*i].as_ref().eq_ignore_ascii_case(keyword.as_bytes());
    if startfrom >= 0 {
        (usize::try_from(startfrom).ok()?..n).find(found)
    } else {
        let start = n.checked_sub(startfrom.unsigned_abs() as usize)?;
        (1..=start).rev().find(found)
    }
}

/// Where a key spec's search begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    /// At this argument index.
    Index(i32),
    /// After the first `keyword` found from `startfrom` (negative: searching backwards
    /// from the end).
    Keyword {
        /// The keyword, matched case-insensitively.
        keyword: &'static str,
        /// Where to start looking.
        startfrom: i32,
    },
}

/// How a key spec finds its keys once the search has begun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Find {
    /// A range of keys.
    Range {
        /// Last key relative to the first (negative: from the end of the arguments).
        lastkey: i32,
        /// Distance between keys.
        step: i32,
        /// With a negative `lastkey`: only `1/limit` of the remaining arguments (0 or 1 =
        /// all of them).
        limit: i32,
    },
    /// A count of keys at `keynumidx` (relative), the keys starting at `firstkey`.
    KeyNum {
        /// Where the count is, relative to the begin index.
        keynumidx: i32,
        /// Where the first key is, relative to the begin index.
        firstkey: i32,
        /// Distance between keys.
        step: i32,
    },
}

/// What a command does with a key (Redis key-spec flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFlag {
    /// Read only.
    Ro,
    /// Read and write.
    Rw,
    /// Overwrite without reading.
    Ow,
    /// Remove.
    Rm,
    /// Reads the value.
    Access,
    /// Updates the value.
    Update,
    /// Only adds data.
    Insert,
    /// Deletes data.
    Delete,
    /// The argument is not a key (a channel, say) but hashes like one.
    NotKey,
    /// The spec may miss some keys.
    Incomplete,
    /// The flags depend on the arguments.
    VariableFlags,
}

impl KeyFlag {
    /// The Redis word (`RO`, `access`, ...).
    pub fn name(self) -> &'static str {
        match self {
            KeyFlag::Ro => "RO",
            KeyFlag::Rw => "RW",
            KeyFlag::Ow => "OW",
            KeyFlag::Rm => "RM",
            KeyFlag::Access => "access",
            KeyFlag::Update => "update",
            KeyFlag::Insert => "insert",
            KeyFlag::Delete => "delete",
            KeyFlag::NotKey => "not_key",
            KeyFlag::Incomplete => "incomplete",
            KeyFlag::VariableFlags => "variable_flags",
        }
    }
}

/// Redis's legacy key range: `first`, `last` (negative counts from the end) and `step`,
/// all zero for a command without keys; `movable` when that range misses some keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Legacy {
    /// Index of the first key.
    pub first: i32,
    /// Index of the last key (negative: from the end).
    pub last: i32,
    /// Distance between keys.
    pub step: i32,
    /// The keys cannot be found from the range alone.
    pub movable: bool,
}

impl Legacy {
    /// The range Redis derives from `specs` (`populateCommandLegacyRangeSpec`).
    pub fn of(specs: &[KeySpec]) -> Legacy {
        legacy(specs)
    }
}

fn legacy(specs: &[KeySpec]) -> Legacy {
    let none = Legacy { first: 0, last: 0, step: 0, movable: false };
    match specs {
        [] => return none,
        [
            KeySpec {
                begin: Begin::Index(first),
                find: Find::Range { lastkey, step, .. },
                flags,
                ..
            },
        ] => {
            let last = if *lastkey >= 0 { first + lastkey } else { *lastkey };
            let movable = flags.contains(&KeyFlag::Incomplete);
            return Legacy { first: *first, last, step: *step, movable };
        }
        _ => {}
    }
    let (mut first, mut last, mut prev, mut movable) = (i32::MAX, 0i32, 0i32, false);
    for spec in specs {
        let (Begin::Index(pos), Find::Range { lastkey, step, .. }) = (spec.begin, spec.find) else {
            movable = true;
            continue;
        };
        if step != 1 || (prev != 0 && prev != pos - 1) {
            movable = true;
            continue;
        }
        first = first.min(pos);
        let abs = if lastkey >= 0 { lastkey + pos } else { lastkey };
        // Unsigned, as in Redis: a negative (from the end) last key wins over any index.
        last = if (abs as u32) > (last as u32) { abs } else { last };
        prev = last;
    }
    if first == i32::MAX {
        return Legacy { movable: true, ..none };
    }
    Legacy { first, last, step: 1, movable }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::Spec;

    const RO: &[KeyFlag] = &[KeyFlag::Ro];

    fn pos(spec: KeySpec, argv: &[&str]) -> Option<Vec<usize>> {
        spec.positions(argv)
    }

    /// A key spec, an argument vector, and the key positions expected.
    type Case = (KeySpec, &'static [&'static str], Option<Vec<usize>>);

    #[test]
    fn key_positions_follow_redis() {
        // (spec, argv, positions)
        let cases: [Case; 7] = [
            (KeySpec::range(1, 0, 1, RO), &["get", "k"], Some(vec![1])),
            (KeySpec::range(1, -1, 1, RO), &["del", "a", "b"], Some(vec![1, 2])),
            (KeySpec::range(1, -1, 2, RO), &["mset", "a", "1", "b", "2"], Some(vec![1, 3])),
            (KeySpec::range(1, 1, 1, RO), &["lcs", "a"], None), // too few arguments
            (KeySpec::range(2, -1, 1, RO), &["bitop", "and", "d", "a"], Some(vec![2, 3])),
            (
                KeySpec {
                    notes: "",
                    flags: RO,
                    begin: Begin::Index(2),
                    find: Find::KeyNum { keynumidx: 0, firstkey: 1, step: 1 },
                },
                &["eval", "s", "2", "a", "b", "x"],
                Some(vec![3, 4]),
            ),
            (
                KeySpec {
                    notes: "",
                    flags: RO,
                    begin: Begin::Keyword { keyword: "STREAMS", startfrom: 1 },
                    find: Find::Range { lastkey: -1, step: 1, limit: 2 },
                },
                &["xread", "count", "2", "streams", "a", "b", "0", "0"],
                Some(vec![4, 5]),
            ),
        ];
        for (spec, argv, want) in cases {
            assert_eq!(pos(spec, argv), want, "{argv:?}");
        }
    }

    #[test]
    fn legacy_range_is_derived_like_redis() {
        const SINGLE: &[KeySpec] = &[KeySpec::range(1, 0, 1, RO)];
        const BITOP: &[KeySpec] = &[KeySpec::range(2, 0, 1, RO), KeySpec::range(3, -1, 1, RO)];
        const RENAME: &[KeySpec] = &[KeySpec::range(1, 0, 1, RO), KeySpec::range(2, 0, 1, RO)];
        let single = Spec::new("get", 2).keys(SINGLE);
        assert_eq!(single.legacy_keys(), Legacy { first: 1, last: 1, step: 1, movable: false });
        let bitop = Spec::new("bitop", -4).keys(BITOP);
        assert_eq!(bitop.legacy_keys(), Legacy { first: 2, last: -1, step: 1, movable: false });
        let rename = Spec::new("rename", 3).keys(RENAME);
        assert_eq!(rename.legacy_keys(), Legacy { first: 1, last: 2, step: 1, movable: false });
        let none = Spec::new("ping", -1);
        assert_eq!(none.legacy_keys(), Legacy { first: 0, last: 0, step: 0, movable: false });
        assert_eq!(none.flag_names().count(), 0);
    }
}
