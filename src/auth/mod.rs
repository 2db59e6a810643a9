//! Password authentication and protected mode, shared by the server and the router.
//!
//! [`Gate`] sits in front of a handler: with a password set, a new connection is
//! unauthenticated and, as in Redis, may only send the commands declared `no_auth` (AUTH,
//! HELLO with its AUTH option, QUIT, RESET); everything else is answered NOAUTH (text
//! `-NOAUTH Authentication required.`). A wrong password, or a user other than `default`,
//! is answered with Redis's WRONGPASS text (binary: status NOAUTH with the same message)
//! and logged at warn with the peer's address, never the password (at most
//! [`MAX_FAILURE_LOGS_PER_SEC`] lines a second). CONFIG SET requirepass changes the
//! password while connections are open; those already authenticated stay so.
//! [`protected`] refuses to listen on a non-loopback address without a password.
//!
//! Owns who may talk; what the commands then do is the handler's business. Transport
//! security is [`crate::tls`]'s; there are no users or ACLs.

mod password;
pub mod protected;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use tracing::warn;

use crate::cmd::config::Config;
use crate::cmd::conn::{Credentials, HelloArgs, wrongpass};
use crate::cmd::{Command, Flag, Session};
use crate::net::LogLimit;
use crate::protocol::{Reply, Status};

pub use password::{MAX_PASSWORD_FILE_LEN, Password, PasswordError};
pub use protected::{ProtectedModeError, check_protected_mode};

/// Redis's answer to a command sent before AUTH.
pub const NOAUTH_MESSAGE: &str = "Authentication required.";

/// Redis's answer to HELLO without AUTH on a connection that has not authenticated.
pub const HELLO_NOAUTH_MESSAGE: &str = "HELLO must be called with the client already \
     authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to \
     authenticate the client and select the RESP protocol version at the same time";

/// Most "authentication failed" lines logged per second; the rest are counted and the
/// count is reported on the next line, so a client pipelining wrong passwords cannot
/// flood the log.
pub const MAX_FAILURE_LOGS_PER_SEC: u64 = 10;

/// What the gate decided about one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screened {
    /// Hand the command to the handler.
    Forward(Command),
    /// Answered here: AUTH's verdict, or NOAUTH.
    Answer(Reply),
}

/// The authentication check in front of a handler. Without a password every connection
/// starts authenticated and the gate lets everything through. Clones share the password.
#[derive(Debug, Clone)]
pub struct Gate {
    password: Arc<ArcSwapOption<Password>>,
    /// Whether `password` is set, read on every command: one relaxed load instead of an
    /// `ArcSwap` load while no password is set.
    required: Arc<AtomicBool>,
    failure_log: Arc<LogLimit>,
    /// Wrong passwords since start, logged or not.
    failures: Arc<AtomicU64>,
}

impl Default for Gate {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Gate {
    /// A gate requiring `password`, or an open one for `None`.
    pub fn new(password: Option<Password>) -> Self {
        let required = Arc::new(AtomicBool::new(password.is_some()));
        let password = Arc::new(ArcSwapOption::from(password.map(Arc::new)));
        let failure_log = Arc::new(LogLimit::new(MAX_FAILURE_LOGS_PER_SEC));
        Self { password, required, failure_log, failures: Arc::default() }
    }

    /// Wrong passwords received since start (AUTH and HELLO's AUTH option).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Whether clients must authenticate.
    pub fn requires_auth(&self) -> bool {
        self.required.load(Ordering::Relaxed)
    }

    /// Requires `password` from new connections and unauthenticated ones (`None`: no
    /// password). Connections that authenticated stay authenticated, as in Redis.
    pub fn set_password(&self, password: Option<Password>) {
        self.required.store(password.is_some(), Ordering::Relaxed);
        self.password.store(password.map(Arc::new));
    }

    /// Adds CONFIG's `requirepass` for this gate to `config`: settable (`""` removes the
    /// password), never shown.
    pub fn config_param(&self, config: Config) -> Config {
        let gate = self.clone();
        config.secret("requirepass", move |v, apply| {
            let password = match v {
                [] => None,
                v => Some(Password::new(Bytes::copy_from_slice(v)).map_err(|e| e.to_string())?),
            };
            if apply {
                gate.set_password(password);
            }
            Ok(())
        })
    }

    /// A new connection's session: unauthenticated exactly when a password is set.
    pub fn session(&self, id: u64, peer: SocketAddr) -> Session {
        Session::new(id, peer, !self.requires_auth())
    }

    /// Forwards `command` to the handler or answers it here. AUTH and HELLO's AUTH option
    /// are checked here when a password is set; without one, AUTH is forwarded so the
    /// handler gives its usual "no password configured" error.
    pub fn screen(&self, session: &mut Session, command: Command) -> Screened {
        if !self.requires_auth() {
            return Screened::Forward(command);
        }
        let guard = self.password.load();
        let Some(password) = guard.as_deref() else {
            return Screened::Forward(command);
        };
        match command {
            Command::Auth(creds) => Screened::Answer(self.authenticate(password, session, &creds)),
            Command::Hello(args) => self.hello(password, session, args),
            other if session.authenticated || other.spec().has(Flag::NoAuth) => {
                Screened::Forward(other)
            }
            _ => Screened::Answer(Reply::error(Status::NoAuth, NOAUTH_MESSAGE)),
        }
    }

    /// HELLO authenticates with its AUTH option; without one it needs a session that
    /// already has. (An unsupported version never gets here: the parser answers NOPROTO
    /// first, as Redis checks the version before the credentials.)
    fn hello(&self, password: &Password, session: &mut Session, args: Box<HelloArgs>) -> Screened {
        if let Some(creds) = &args.auth {
            if let Reply::Error(e) = self.authenticate(password, session, creds) {
                return Screened::Answer(Reply::Error(e));
            }
        }
        if !session.authenticated {
            return Screened::Answer(Reply::error(Status::NoAuth, HELLO_NOAUTH_MESSAGE));
        }
        Screened::Forward(Command::Hello(args))
    }

    /// Checks one attempt: user `default` (or none) and the password. A failure leaves an
    /// already authenticated session authenticated, as in Redis.
    fn authenticate(
        &self,
        password: &Password,
        session: &mut Session,
        creds: &Credentials,
    ) -> Reply {
        // The password is compared whatever the user, so timing does not tell users apart.
        let matches = password.matches(&creds.password.0);
        if matches && creds.user_is_default() {
            session.authenticated = true;
            return Reply::Ok;
        }
        self.failures.fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = self.failure_log.admit() {
            warn!(
                peer = %session.peer,
                conn = session.id,
                suppressed,
                "authentication failed: wrong password"
            );
        }
        Reply::Error(wrongpass())
    }
}

#[cfg(test)]
mod tests {
    use super::Screened::{Answer, Forward};
    use super::*;
    use crate::protocol::WRONGPASS_MESSAGE;

    fn gate() -> (Gate, Session) {
        let gate = Gate::new(Some(Password::new("pw").unwrap()));
        let session = gate.session(1, "127.0.0.1:1".parse().unwrap());
        (gate, session)
    }

    fn hello(version: Option<i64>, auth: Option<&'static str>) -> Command {
        let auth =
            auth.map(|p| Credentials { user: Some(Bytes::from("default")), password: p.into() });
        Command::Hello(Box::new(HelloArgs { version, auth, setname: None }))
    }

    fn auth(password: &'static str) -> Command {
        Command::Auth(Credentials { user: None, password: password.into() })
    }

    fn noauth(message: &'static str) -> Screened {
        Screened::Answer(Reply::error(Status::NoAuth, message))
    }

    #[test]
    fn open_gate_lets_everything_through() {
        let gate = Gate::default();
        let mut s = gate.session(1, "127.0.0.1:1".parse().unwrap());
        assert!(s.authenticated);
        let auth = auth("x");
        assert_eq!(gate.screen(&mut s, auth.clone()), Forward(auth), "the handler answers AUTH");
        assert_eq!(gate.screen(&mut s, Command::DbSize(())), Forward(Command::DbSize(())));
    }

    #[test]
    fn only_auth_hello_and_quit_before_authenticating() {
        let (gate, mut s) = gate();
        assert!(!s.authenticated);
        // (command, answer)
        let cases = [
            (Command::Get("k".into()), noauth(NOAUTH_MESSAGE)), // data
            (Command::Ping(None), noauth(NOAUTH_MESSAGE)),      // PING too, as in Redis
            (Command::Quit(()), Forward(Command::Quit(()))),    // QUIT always
            (Command::Reset(()), Forward(Command::Reset(()))),  // RESET is no_auth too
            (hello(Some(3), None), noauth(HELLO_NOAUTH_MESSAGE)), // HELLO without AUTH
            (auth("nope"), noauth(WRONGPASS_MESSAGE)),          // wrong password
            (
                Command::Auth(Credentials { user: Some("bob".into()), password: "pw".into() }),
                noauth(WRONGPASS_MESSAGE),
            ), // right password, unknown user
        ];
        for (command, want) in cases {
            assert_eq!(gate.screen(&mut s, command.clone()), want, "{command:?}");
            assert!(!s.authenticated, "{command:?}");
        }
        assert_eq!(gate.screen(&mut s, auth("pw")), Answer(Reply::Ok));
        assert!(s.authenticated);
        assert_eq!(gate.screen(&mut s, Command::DbSize(())), Forward(Command::DbSize(())));
        let _ = gate.screen(&mut s, auth("nope"));
        assert!(s.authenticated, "a failed AUTH keeps an authenticated session");
    }

    #[test]
    fn hello_auth_authenticates() {
        let (gate, mut s) = gate();
        assert_eq!(gate.screen(&mut s, hello(Some(3), Some("bad"))), noauth(WRONGPASS_MESSAGE));
        assert!(!s.authenticated);
        assert_eq!(gate.failures(), 1);
        let good = hello(Some(3), Some("pw"));
        assert_eq!(gate.screen(&mut s, good.clone()), Forward(good));
        assert!(s.authenticated);
        assert_eq!(gate.screen(&mut s, hello(None, None)), Forward(hello(None, None)));
    }
}

#[cfg(test)]
mod runtime_tests {
    use super::*;

    #[test]
    fn the_password_can_change_while_sessions_last() {
        let gate = Gate::default();
        let mut old = gate.session(1, "127.0.0.1:1".parse().expect("addr"));
        gate.set_password(Some(Password::new("pw").expect("non-empty")));
        assert!(gate.requires_auth());
        assert!(old.authenticated, "an open session stays authenticated");
        assert!(matches!(gate.screen(&mut old, Command::DbSize(())), Screened::Forward(_)));
        let fresh = gate.session(2, "127.0.0.1:2".parse().expect("addr"));
        assert!(!fresh.authenticated);
        gate.set_password(None);
        assert!(gate.session(3, "127.0.0.1:3".parse().expect("addr")).authenticated);
    }
}
