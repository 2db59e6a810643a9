//! The REPL's knowledge of commands: `help`, argument hints and tab completion.
//!
//! Owns the command table shown to people: synopses for the common commands, and for
//! every other command the server declares ([`crate::cmd::COMMANDS`]) its summary, so
//! `help` and completion know every command. The server's parser ([`crate::cmd::parse`])
//! stays the authority.

use std::borrow::Cow;

use bytes::Bytes;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

/// One documented command.
#[derive(Debug, Clone, Copy)]
pub struct CommandHelp {
    /// Upper-case name.
    pub name: &'static str,
    /// Argument synopsis, Redis style.
    pub args: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// How it travels: `binary` (a typed opcode), `cmd` (the CMD opcode) or `cli`
    /// (handled by the REPL itself).
    pub group: &'static str,
}

const fn cmd(
    name: &'static str,
    args: &'static str,
    summary: &'static str,
    group: &'static str,
) -> CommandHelp {
    CommandHelp { name, args, summary, group }
}

/// Every command the REPL knows, sorted by name.
pub const COMMANDS: &[CommandHelp] = &[
    cmd("AUTH", "[username] password", "Authenticate the connection", "cmd"),
    cmd("CLEAR", "", "Clear the screen", "cli"),
    cmd(
        "CLIENT",
        "ID|INFO|LIST|SETNAME name|GETNAME|KILL ...|REPLY ON|OFF|SKIP|SETINFO attr value|HELP",
        "Inspect, name or close client connections",
        "cmd",
    ),
    cmd(
        "COMMAND",
        "[COUNT|INFO [name ...]|LIST|DOCS [name ...]|GETKEYS cmd ...|GETKEYSANDFLAGS cmd ...|HELP]",
        "What the server's commands are, their flags, keys and docs",
        "cmd",
    ),
    cmd(
        "CONFIG",
        "GET pattern|SET parameter value|RESETSTAT|HELP",
        "Read or change settings",
        "cmd",
    ),
    cmd("DBSIZE", "", "Number of keys", "cmd"),
    cmd("DEL", "key [key ...]", "Delete keys; replies how many existed", "binary"),
    cmd("ECHO", "message", "Echo the message", "cmd"),
    cmd("EXISTS", "key [key ...]", "How many of the keys exist", "cmd"),
    cmd("EXIT", "", "Leave the CLI", "cli"),
    cmd("EXPIRE", "key seconds", "Set a key's time to live in seconds", "cmd"),
    cmd("FLUSHALL", "[ASYNC|SYNC]", "Delete every key", "cmd"),
    cmd("FLUSHDB", "[ASYNC|SYNC]", "Delete every key", "cmd"),
    cmd("GET", "key", "Get the value of a key", "binary"),
    cmd("HELP", "[command]", "Show help, or one command's synopsis", "cli"),
    cmd("INFO", "[section ...]", "Server information and statistics", "cmd"),
    cmd("MGET", "key [key ...]", "Get the values of several keys", "cmd"),
    cmd("MSET", "key value [key value ...]", "Set several keys", "cmd"),
    cmd("PERSIST", "key", "Remove a key's time to live", "cmd"),
    cmd("PEXPIRE", "key milliseconds", "Set a key's time to live in milliseconds", "cmd"),
    cmd("PING", "[message]", "Round trip; PONG or the message", "binary"),
    cmd("PTTL", "key", "Milliseconds to live: -1 no expiry, -2 absent", "binary"),
    cmd("QUIT", "", "Leave the CLI", "cli"),
    cmd("RESET", "", "Reset the connection's state", "cmd"),
    cmd("SELECT", "index", "Only database 0 exists", "cmd"),
    cmd("SET", "key value [EX seconds|PX ms|--ttl duration] [NX|XX]", "Set a value", "binary"),
    cmd(
        "SLOWLOG",
        "GET [count]|LEN|RESET|HELP",
        "Commands that took longer than slowlog-log-slower-than",
        "cmd",
    ),
    cmd("STATS", "", "Server statistics as name:value lines", "binary"),
    cmd("TIME", "", "The server's time: seconds and microseconds", "cmd"),
    cmd("TTL", "key", "Seconds to live: -1 no expiry, -2 absent", "binary"),
];

/// The entry for a command name, any case: the table's, or one made from the server's
/// declaration (no synopsis) for any other command.
pub fn find(name: &str) -> Option<CommandHelp> {
    if let Some(c) = COMMANDS.iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
        return Some(*c);
    }
    let spec = crate::cmd::args::lookup(name.as_bytes())?.spec;
    Some(CommandHelp { name: spec.name, args: "", summary: spec.summary, group: "cmd" })
}

/// Every command name `help` and completion offer: the table's and the server's, lower
/// case, sorted, once each.
pub fn names() -> Vec<String> {
    let table = COMMANDS.iter().map(|c| c.name.to_ascii_lowercase());
    let declared = crate::cmd::COMMANDS.iter().map(|e| e.spec.name.to_owned());
    let mut names: Vec<String> = table.chain(declared).collect();
    names.sort();
    names.dedup();
    names
}

/// The text `help` prints: with no topic, an overview; else the topic's synopsis.
pub fn text(topic: &[Bytes]) -> String {
    let Some(name) = topic.first().map(|t| String::from_utf8_lossy(t)) else {
        let names = names();
        return format!(
            "shale cli {}\nType a command and its arguments, e.g. set greeting hello EX 60\n      \
             \"help <command>\" for help on <command>\n      \
             \"<n> <command>\" to run a command n times\n      \
             \"quit\" to exit\nCommands: {}\n",
            env!("CARGO_PKG_VERSION"),
            names.join(" ")
        );
    };
    match find(&name) {
        Some(c) => format!(
            "\n  {} {}\n  summary: {}\n  sent as: {}\n\n",
            c.name.to_ascii_uppercase(),
            c.args,
            c.summary,
            c.group
        ),
        None => format!("No help for '{name}'; the server may still know it.\n"),
    }
}

/// The argument hint for a partly typed line: the synopsis not typed yet, like
/// redis-cli's hints. Typed words use up required arguments only; optional `[...]`
/// groups stay visible until the line is done.
pub fn hint(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let entry = find(words.first()?)?;
    let ends_with_space = line.ends_with(char::is_whitespace);
    if entry.args.is_empty() || (words.len() > 1 && !ends_with_space) {
        // Mid-word: the hint would jump around while typing.
        return None;
    }
    let units = synopsis_units(entry.args);
    let required = units.iter().take_while(|u| !u.starts_with('[')).count();
    let rest = units.get((words.len() - 1).min(required)..).unwrap_or_default();
    if rest.is_empty() {
        return None;
    }
    let lead = if ends_with_space { "" } else { " " };
    Some(format!("{lead}{}", rest.join(" ")))
}

/// Splits a synopsis at spaces outside brackets: `key [EX s|PX ms]` -> `key`, `[EX s|PX ms]`.
fn synopsis_units(args: &str) -> Vec<&str> {
    let (mut units, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in args.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ' ' if depth == 0 => {
                units.push(&args[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    units.push(&args[start..]);
    units.retain(|u| !u.is_empty());
    units
}

/// Completions for the word before `pos`: command names for the first word and after
/// `help`, in the case the user started typing.
pub fn complete(line: &str, pos: usize) -> (usize, Vec<String>) {
    let before = line.get(..pos).unwrap_or(line);
    let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let prefix = &before[start..];
    let head = before[..start].trim();
    if !(head.is_empty() || head.eq_ignore_ascii_case("help")) {
        return (start, Vec::new());
    }
    let lower = prefix.chars().next().is_none_or(|c| c.is_ascii_lowercase());
    let matches = names()
        .into_iter()
        .filter(|n| n.len() >= prefix.len() && n[..prefix.len()].eq_ignore_ascii_case(prefix))
        .map(|n| if lower { n } else { n.to_ascii_uppercase() })
        .collect();
    (start, matches)
}

/// The rustyline helper: hints and completion from [`COMMANDS`] and the server's list.
#[derive(Debug, Default)]
pub struct ReplHelper;

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, names) = complete(line, pos);
        let pairs = names.into_iter().map(|n| Pair { display: n.clone(), replacement: n });
        Ok((start, pairs.collect()))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if pos < line.len() {
            return None;
        }
        hint(line)
    }
}

impl Highlighter for ReplHelper {
    /// Hints in dark grey, as redis-cli shows them.
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[90m{hint}\x1b[0m"))
    }
}

impl Validator for ReplHelper {}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(COMMANDS.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn hints_drop_typed_arguments() {
        // (line, hint)
        let cases = [
            ("set", Some(" key value [EX seconds|PX ms|--ttl duration] [NX|XX]")),
            ("SET ", Some("key value [EX seconds|PX ms|--ttl duration] [NX|XX]")),
            ("set k ", Some("value [EX seconds|PX ms|--ttl duration] [NX|XX]")),
            ("set k", None),
            ("set k v EX ", Some("[EX seconds|PX ms|--ttl duration] [NX|XX]")),
            ("del a b ", Some("[key ...]")),
            ("get k ", None),
            ("dbsize", None),
            ("nosuch ", None),
            ("", None),
        ];
        for (line, want) in cases {
            assert_eq!(hint(line).as_deref(), want, "{line:?}");
        }
    }

    #[test]
    fn completes_command_names_in_the_typed_case() {
        let pe = ["persist", "pexpire", "pexpireat", "pexpiretime"].map(String::from).to_vec();
        assert_eq!(complete("pe", 2), (0, pe));
        assert_eq!(complete("DB", 2), (0, vec!["DBSIZE".into()]));
        assert_eq!(complete("help mg", 7), (5, vec!["mget".into()]));
        assert_eq!(complete("get mg", 6).1, Vec::<String>::new());
    }

    #[test]
    fn help_text() {
        let topic = |s: &'static str| [Bytes::from_static(s.as_bytes())];
        assert!(text(&[]).contains("\"quit\" to exit"));
        assert!(text(&topic("set")).contains("SET key value [EX seconds|PX ms|--ttl duration]"));
        assert!(text(&topic("nosuch")).starts_with("No help for 'nosuch'"));
    }
}
