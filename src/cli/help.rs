//! The REPL's knowledge of commands: `help`, argument hints and tab completion.
//!
//! Owns the command table shown to people. It documents what the server accepts; the
//! server's parser ([`crate::protocol::text::parse_command`]) stays the authority, so a
//! command missing here still works, it just gets no hint.

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
    /// How it travels: `binary`, `text` or `cli` (handled by the REPL itself).
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
    cmd("AUTH", "[username] password", "Authenticate the text connection", "text"),
    cmd("CLEAR", "", "Clear the screen", "cli"),
    cmd("CLIENT", "SETNAME|GETNAME|ID|INFO [arg]", "Inspect or name the text connection", "text"),
    cmd("COMMAND", "[subcommand]", "Minimal command introspection", "text"),
    cmd("CONFIG", "GET parameter", "Read server settings", "text"),
    cmd("DBSIZE", "", "Number of keys", "text"),
    cmd("DEL", "key [key ...]", "Delete keys; replies how many existed", "binary"),
    cmd("ECHO", "message", "Echo the message", "text"),
    cmd("EXISTS", "key [key ...]", "How many of the keys exist", "text"),
    cmd("EXIT", "", "Leave the CLI", "cli"),
    cmd("EXPIRE", "key seconds", "Set a key's time to live in seconds", "text"),
    cmd("FLUSHALL", "[ASYNC|SYNC]", "Delete every key", "text"),
    cmd("FLUSHDB", "[ASYNC|SYNC]", "Delete every key", "text"),
    cmd("GET", "key", "Get the value of a key", "binary"),
    cmd("HELP", "[command]", "Show help, or one command's synopsis", "cli"),
    cmd("INFO", "[section]", "Server information and statistics", "text"),
    cmd("MGET", "key [key ...]", "Get the values of several keys", "text"),
    cmd("MSET", "key value [key value ...]", "Set several keys", "text"),
    cmd("PERSIST", "key", "Remove a key's time to live", "text"),
    cmd("PEXPIRE", "key milliseconds", "Set a key's time to live in milliseconds", "text"),
    cmd("PING", "[message]", "Round trip; PONG or the message", "binary"),
    cmd("PTTL", "key", "Milliseconds to live: -1 no expiry, -2 absent", "binary"),
    cmd("QUIT", "", "Leave the CLI", "cli"),
    cmd("SELECT", "index", "Only database 0 exists", "text"),
    cmd("SET", "key value [EX seconds|PX ms|--ttl duration] [NX|XX]", "Set a value", "binary"),
    cmd("STATS", "", "Server statistics as name:value lines", "binary"),
    cmd("TTL", "key", "Seconds to live: -1 no expiry, -2 absent", "binary"),
];

/// The entry for a command name, any case.
pub fn find(name: &str) -> Option<&'static CommandHelp> {
    COMMANDS.iter().find(|c| c.name.eq_ignore_ascii_case(name))
}

/// The text `help` prints: with no topic, an overview; else the topic's synopsis.
pub fn text(topic: &[Bytes]) -> String {
    let Some(name) = topic.first().map(|t| String::from_utf8_lossy(t)) else {
        let names: Vec<_> = COMMANDS.iter().map(|c| c.name.to_ascii_lowercase()).collect();
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
            c.name, c.args, c.summary, c.group
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
    let matches = COMMANDS
        .iter()
        .filter(|c| {
            c.name.len() >= prefix.len() && c.name[..prefix.len()].eq_ignore_ascii_case(prefix)
        })
        .map(|c| if lower { c.name.to_ascii_lowercase() } else { c.name.to_owned() })
        .collect();
    (start, matches)
}

/// The rustyline helper: hints and completion from [`COMMANDS`].
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
        assert_eq!(complete("pe", 2), (0, vec!["persist".into(), "pexpire".into()]));
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
