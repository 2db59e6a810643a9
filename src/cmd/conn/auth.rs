//! AUTH and HELLO. With a password set, [`crate::auth::Gate`] answers their credentials
//! before `apply` runs; without one, `apply` answers as Redis's `nopass` default user does:
//! any password for user `default`, WRONGPASS for any other user.

use bytes::Bytes;

use crate::cmd::args::{ECHO_LIMIT, arg, lossy, syntax_error};
use crate::cmd::{Cmd, Ctx, Keys, Spec};
use crate::protocol::text::{Argv, parse_i64};
use crate::protocol::{ErrorReply, Limits, NOPROTO_MESSAGE, Reply, Status, WRONGPASS_MESSAGE};

/// The only user: every connection is `default` (there are no ACLs).
pub const DEFAULT_USER: &str = "default";

/// A password as received: compared, never shown. Its `Debug` prints only the length, so
/// a logged command does not leak it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub Bytes);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

impl<T: Into<Bytes>> From<T> for Secret {
    fn from(bytes: T) -> Self {
        Secret(bytes.into())
    }
}

/// Credentials: an optional user name and a password.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// The user; `None` means `default`.
    pub user: Option<Bytes>,
    /// The password.
    pub password: Secret,
}

impl Credentials {
    /// Whether the user is the one user shale has.
    pub fn user_is_default(&self) -> bool {
        self.user.as_deref().is_none_or(|u| u == DEFAULT_USER.as_bytes())
    }
}

/// The WRONGPASS error.
pub fn wrongpass() -> ErrorReply {
    ErrorReply::new(Status::NoAuth, WRONGPASS_MESSAGE)
}

/// AUTH [username] password.
#[derive(Debug)]
pub struct Auth;

impl Cmd for Auth {
    type Args = Credentials;
    const SPEC: Spec =
        Spec::new("auth", -2).flags(super::BEFORE_AUTH).acl(&["@fast", "@connection"]).docs(
            "connection",
            "1.0.0",
            "O(N) where N is the number of passwords defined for the user",
            "Authenticate to the server",
        );

    fn parse(argv: &Argv, _: &Limits) -> Result<Credentials, ErrorReply> {
        match argv.len() {
            2 => Ok(Credentials { user: None, password: arg(argv, 1).into() }),
            3 => Ok(Credentials { user: argv.bytes(1), password: arg(argv, 2).into() }),
            _ => Err(syntax_error()),
        }
    }

    fn keys(_: &Credentials) -> Keys<'_> {
        Keys::none()
    }

    /// Reached only without a password (the gate answers otherwise).
    fn apply(c: Credentials, _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        match c.user {
            None => Err(ErrorReply::invalid(
                "AUTH <password> called without any password configured for the default user. \
                 Are you sure your configuration is correct?",
            )),
            Some(_) if c.user_is_default() => Ok(Reply::Ok),
            Some(_) => Err(wrongpass()),
        }
    }
}

/// Arguments of HELLO.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HelloArgs {
    /// Requested RESP version (2 or 3); `None` keeps the current one.
    pub version: Option<i64>,
    /// `AUTH user pass`.
    pub auth: Option<Credentials>,
    /// `SETNAME name` (already checked for forbidden characters).
    pub setname: Option<Bytes>,
}

/// Redis's client-name rule: printable ASCII without spaces.
pub fn check_name(name: &[u8], what: &str) -> Result<(), ErrorReply> {
    if name.iter().all(|&b| (b'!'..=b'~').contains(&b)) {
        return Ok(());
    }
    Err(ErrorReply::invalid(format!(
        "{what} cannot contain spaces, newlines or special characters."
    )))
}

/// HELLO [protover [AUTH user pass] [SETNAME name]]: switches the RESP version and
/// answers with server facts as a map.
#[derive(Debug)]
pub struct Hello;

impl Cmd for Hello {
    /// Boxed: HELLO is rare and its arguments are the largest of any command.
    type Args = Box<HelloArgs>;
    const SPEC: Spec = Spec::new("hello", -1)
        .flags(super::BEFORE_AUTH)
        .acl(&["@fast", "@connection"])
        .docs("connection", "6.0.0", "O(1)", "Handshake with Redis");

    /// Checks like Redis, in Redis's order: the version first (NOPROTO), then each option.
    fn parse(argv: &Argv, _: &Limits) -> Result<Box<HelloArgs>, ErrorReply> {
        let mut hello = Box::<HelloArgs>::default();
        let Some(version) = argv.get(1) else {
            return Ok(hello);
        };
        let version = parse_i64(version).ok_or_else(|| {
            ErrorReply::invalid("Protocol version is not an integer or out of range")
        })?;
        if !(2..=3).contains(&version) {
            return Err(ErrorReply::invalid(NOPROTO_MESSAGE));
        }
        hello.version = Some(version);
        let mut i = 2;
        while let Some(opt) = argv.get(i) {
            let more = argv.len() - 1 - i;
            if opt.eq_ignore_ascii_case(b"auth") && more >= 2 {
                let (user, password) = (arg(argv, i + 1), arg(argv, i + 2).into());
                hello.auth = Some(Credentials { user: Some(user), password });
                i += 3;
            } else if opt.eq_ignore_ascii_case(b"setname") && more >= 1 {
                check_name(&argv[i + 1], "Client names")?;
                hello.setname = argv.bytes(i + 1);
                i += 2;
            } else {
                let shown = lossy(opt, ECHO_LIMIT);
                return Err(ErrorReply::invalid(format!("Syntax error in HELLO option '{shown}'")));
            }
        }
        Ok(hello)
    }

    fn keys(_: &Box<HelloArgs>) -> Keys<'_> {
        Keys::none()
    }

    fn apply(args: Box<HelloArgs>, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        // With a password the gate has checked the credentials; without one only the user
        // can be wrong.
        if let Some(c) = &args.auth {
            if !ctx.env.requires_auth() && !c.user_is_default() {
                return Err(wrongpass());
            }
        }
        if let Some(name) = args.setname {
            ctx.session.set_name((!name.is_empty()).then_some(name));
        }
        if let Some(v) = args.version {
            ctx.session.set_resp3(v == 3);
        }
        let s = &*ctx.session;
        let pairs: [(&str, Reply); 7] = [
            ("server", Reply::text("shale")),
            ("version", Reply::text(env!("CARGO_PKG_VERSION"))),
            ("proto", Reply::Int(if s.resp3 { 3 } else { 2 })),
            ("id", Reply::Int(i64::try_from(s.id).unwrap_or(i64::MAX))),
            ("mode", Reply::text("standalone")),
            ("role", Reply::text("master")),
            ("modules", Reply::Array(Vec::new())),
        ];
        Ok(Reply::Map(pairs.into_iter().map(|(k, v)| (Reply::text(k), v)).collect()))
    }
}
