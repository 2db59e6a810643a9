//! How COMMAND renders declarations: the ten-element COMMAND INFO entry, the COMMAND DOCS
//! map, and key extraction from an argument vector through the key specs (GETKEYS), all
//! in Redis 7's shapes.

use bytes::Bytes;

use crate::cmd::args::lookup;
use crate::cmd::{Begin, Find};
use crate::cmd::{Flag, KeyFlag, KeySpec, Spec};
use crate::protocol::{ErrorReply, Reply};

fn simple_set(words: impl Iterator<Item = &'static str>) -> Reply {
    Reply::Set(words.map(Reply::Simple).collect())
}

fn int(n: i32) -> Reply {
    Reply::Int(i64::from(n))
}

fn map(pairs: Vec<(&'static str, Reply)>) -> Reply {
    Reply::Map(pairs.into_iter().map(|(k, v)| (Reply::text(k), v)).collect())
}

/// One COMMAND INFO entry: name, arity, flags, first key, last key, step, ACL categories,
/// tips, key specs, subcommands.
pub fn info(spec: &Spec) -> Reply {
    let legacy = spec.legacy_keys();
    Reply::Array(vec![
        Reply::text(spec.name),
        int(spec.arity),
        simple_set(spec.flag_names()),
        int(legacy.first),
        int(legacy.last),
        int(legacy.step),
        simple_set(spec.acl.iter().copied()),
        // Tips are bulk strings, key specs and subcommands sets, as Redis sends them.
        Reply::Set(spec.tips.iter().map(|t| Reply::text(t)).collect()),
        Reply::Set(spec.keys.iter().map(key_spec).collect()),
        Reply::Set(spec.subcommands.iter().map(info).collect()),
    ])
}

fn key_spec(k: &KeySpec) -> Reply {
    let begin = match k.begin {
        Begin::Index(i) => {
            map(vec![("type", Reply::text("index")), ("spec", map(vec![("index", int(i))]))])
        }
        Begin::Keyword { keyword, startfrom } => map(vec![
            ("type", Reply::text("keyword")),
            ("spec", map(vec![("keyword", Reply::text(keyword)), ("startfrom", int(startfrom))])),
        ]),
    };
    let find = match k.find {
        Find::Range { lastkey, step, limit } => map(vec![
            ("type", Reply::text("range")),
            (
                "spec",
                map(vec![("lastkey", int(lastkey)), ("keystep", int(step)), ("limit", int(limit))]),
            ),
        ]),
        Find::KeyNum { keynumidx, firstkey, step } => map(vec![
            ("type", Reply::text("keynum")),
            (
                "spec",
                map(vec![
                    ("keynumidx", int(keynumidx)),
                    ("firstkey", int(firstkey)),
                    ("keystep", int(step)),
                ]),
            ),
        ]),
    };
    let mut fields =
        vec![("flags", key_flags(k.flags)), ("begin_search", begin), ("find_keys", find)];
    if !k.notes.is_empty() {
        fields.insert(0, ("notes", Reply::text(k.notes)));
    }
    map(fields)
}

/// Key-spec flags as a set of simple strings.
pub fn key_flags(flags: &'static [KeyFlag]) -> Reply {
    simple_set(flags.iter().map(|f| f.name()))
}

/// One COMMAND DOCS entry's value: summary, since, group, complexity (when known) and a
/// container's subcommands.
pub fn docs(spec: &Spec) -> Reply {
    let mut pairs = vec![
        ("summary", Reply::text(spec.summary)),
        ("since", Reply::text(spec.since)),
        ("group", Reply::text(spec.group)),
    ];
    if !spec.complexity.is_empty() {
        pairs.push(("complexity", Reply::text(spec.complexity)));
    }
    if !spec.subcommands.is_empty() {
        let subs = spec.subcommands.iter().map(|s| (Reply::text(s.name), docs(s))).collect();
        pairs.push(("subcommands", Reply::Map(subs)));
    }
    map(pairs)
}

/// The declaration an argument vector runs: a container's subcommand when it has one.
pub fn resolve(argv: &[Bytes]) -> Option<&'static Spec> {
    let spec = lookup(argv.first()?)?.spec;
    match argv.get(1) {
        Some(sub) if !spec.subcommands.is_empty() => spec.subcommand(sub),
        _ => Some(spec),
    }
}

/// The keys of `argv` found through its command's key specs, each with its spec's flags,
/// in key-spec order; Redis's errors when there are none.
pub fn getkeys(argv: &[Bytes]) -> Result<Vec<(Bytes, &'static [KeyFlag])>, ErrorReply> {
    let spec = resolve(argv).ok_or_else(|| ErrorReply::invalid("Invalid command specified"))?;
    if spec.keys.is_empty() && spec.flags.contains(&Flag::MovableKeys) {
        return movable_keys(argv);
    }
    if spec.keys.is_empty() {
        return Err(ErrorReply::invalid("The command has no key arguments"));
    }
    if !spec.admits(argv.len()) {
        return Err(ErrorReply::invalid("Invalid number of arguments specified for command"));
    }
    let mut keys = Vec::new();
    for k in spec.keys {
        match k.positions(argv) {
            Some(at) => keys.extend(at.into_iter().map(|i| (argv[i].clone(), k.flags))),
            // With a variable arity the count was not checked up front: such a spec
            // just finds nothing, as in Redis.
            None if spec.arity < 0 => {}
            None => return Err(ErrorReply::invalid("Invalid arguments specified for command")),
        }
    }
    if keys.is_empty() {
        return Err(ErrorReply::invalid("Invalid arguments specified for command"));
    }
    Ok(keys)
}

/// Keys of a command no key spec can describe (TXEXEC carries commands): found by parsing
/// it, as Redis runs a command's own key procedure for `movablekeys` commands.
fn movable_keys(argv: &[Bytes]) -> Result<Vec<(Bytes, &'static [KeyFlag])>, ErrorReply> {
    const FLAGS: &[KeyFlag] = &[KeyFlag::Rw, KeyFlag::Update];
    let command = crate::cmd::parse(&argv.to_vec().into(), &crate::protocol::Limits::default())
        .map_err(|_| ErrorReply::invalid("Invalid arguments specified for command"))?;
    let keys: Vec<_> = command.keys().map(|k| (k.clone(), FLAGS)).collect();
    if keys.is_empty() {
        return Err(ErrorReply::invalid("Invalid arguments specified for command"));
    }
    Ok(keys)
}
