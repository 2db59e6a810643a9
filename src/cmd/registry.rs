//! The [`Cmd`] trait every command implements, and [`registry!`], which turns the one list
//! of commands in `cmd/mod.rs` into the [`Command`](super::Command) enum and every
//! exhaustive match over it (spec, keys, route, apply) plus the name table the parser
//! searches. Nothing else matches on command kinds, so a command added to the list is
//! parsed, dispatched, shard-checked and listed by COMMAND without further edits, and a
//! command missing from a match is a compile error, not a silent `_ =>`.

use super::ctx::Ctx;
use super::keys::Keys;
use super::spec::{Route, Spec};
use super::writes::BlindWrites;
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// One command: its declaration, how its arguments parse, which keys they name, and what
/// it does. Implemented by a unit struct per command; the parsed arguments are
/// [`Cmd::Args`], the payload of the command's [`Command`](super::Command) variant.
pub trait Cmd {
    /// The parsed arguments.
    type Args: std::fmt::Debug + Clone + PartialEq + Eq + Send + 'static;

    /// The declaration: name, arity, flags, keys, route, docs.
    const SPEC: Spec;

    /// Parses an argument vector (the name first) whose arity [`Cmd::SPEC`] admits (and,
    /// for a container, whose subcommand exists with an admitted arity). Errors carry
    /// Redis's messages.
    fn parse(argv: &Argv, limits: &Limits) -> Result<Self::Args, ErrorReply>;

    /// The keys the arguments name, in argument order; what COMMAND GETKEYS finds in the
    /// same argument vector through the key specs.
    fn keys(args: &Self::Args) -> Keys<'_>;

    /// Runs the command.
    fn apply(args: Self::Args, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply>;

    /// The routing class of these arguments; the declared one unless it depends on them.
    fn route(_args: &Self::Args) -> Route {
        Self::SPEC.route
    }

    /// The subcommand's declaration, for container commands (CONFIG GET, CLIENT LIST).
    fn sub(_args: &Self::Args) -> Option<&'static Spec> {
        None
    }

    /// What a blind write stores, key by key (value or delete, expiry), so a router can
    /// replicate it as versioned writes; none for commands that are not blind writes. Every
    /// command whose [`Cmd::route`] is [`Route::Write`], and every split command that
    /// writes, must list its writes (a registry test checks).
    fn blind_writes(_args: &Self::Args) -> BlindWrites<'_> {
        BlindWrites::none()
    }
}

/// A parser of one command, as the name table holds it.
pub type ParseFn = fn(&Argv, &Limits) -> Result<super::Command, ErrorReply>;

/// One row of the name table.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The command's declaration.
    pub spec: &'static Spec,
    /// Its parser, producing the command's variant.
    pub parse: ParseFn,
}

/// Generates [`Command`](super::Command) and its dispatch from `Variant => Type` pairs.
macro_rules! registry {
    ($($variant:ident => $ty:ty,)+) => {
        /// One parsed request, whichever dialect it arrived in: one variant per command,
        /// holding that command's parsed arguments ([`Cmd::Args`]).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Command {
            $(
                #[doc = concat!("The `", stringify!($variant), "` command and its arguments.")]
                $variant(<$ty as Cmd>::Args),
            )+
        }

        /// Every command, in registry order: the table the parser searches and COMMAND
        /// lists.
        pub static COMMANDS: &[Entry] = &[
            $(Entry {
                spec: &<$ty as Cmd>::SPEC,
                parse: |argv, limits| <$ty as Cmd>::parse(argv, limits).map(Command::$variant),
            },)+
        ];

        impl Command {
            /// The command's declaration (a container's, for a subcommand).
            pub fn spec(&self) -> &'static Spec {
                match self {
                    $(Command::$variant(_) => &<$ty as Cmd>::SPEC,)+
                }
            }

            /// The most specific declaration: the subcommand's for CONFIG GET and the like.
            pub fn full_spec(&self) -> &'static Spec {
                match self {
                    $(Command::$variant(a) => {
                        <$ty as Cmd>::sub(a).unwrap_or(&<$ty as Cmd>::SPEC)
                    })+
                }
            }

            /// The keys this command names, in order.
            pub fn keys(&self) -> Keys<'_> {
                match self {
                    $(Command::$variant(a) => <$ty as Cmd>::keys(a),)+
                }
            }

            /// How a router runs this command.
            pub fn route(&self) -> Route {
                match self {
                    $(Command::$variant(a) => <$ty as Cmd>::route(a),)+
                }
            }

            /// What this command stores if it is a blind write (see [`Cmd::blind_writes`]).
            pub fn blind_writes(&self) -> BlindWrites<'_> {
                match self {
                    $(Command::$variant(a) => <$ty as Cmd>::blind_writes(a),)+
                }
            }

            /// Runs the command in `ctx`; errors become error replies.
            pub fn apply(self, ctx: &mut Ctx<'_>) -> Reply {
                let result = match self {
                    $(Command::$variant(a) => <$ty as Cmd>::apply(a, ctx),)+
                };
                result.unwrap_or_else(Reply::Error)
            }
        }
    };
}

pub(crate) use registry;
