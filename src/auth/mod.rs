//! Password authentication and protected mode, shared by the server and the router.
//!
//! [`Gate`] sits in front of a handler: with a password set, a new connection is
//! unauthenticated and, as in Redis, may only send AUTH, HELLO (with its AUTH option) and
//! QUIT; everything else is answered NOAUTH (text `-NOAUTH Authentication required.`). A
//! wrong password is answered with Redis's WRONGPASS text (binary: status NOAUTH with the
//! same message) and logged at warn with the peer's address, never the password (at most
//! [`MAX_FAILURE_LOGS_PER_SEC`] lines a second).
//! [`protected`] refuses to listen on a non-loopback address without a password.
//!
//! Owns who may talk; what the commands then do is the handler's business. Transport
//! security is [`crate::tls`]'s; there are no users or ACLs.

mod password;
pub mod protected;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::warn;

use crate::net::{LogLimit, Session};
use crate::protocol::{Command, HelloArgs, Reply, Status, WRONGPASS_MESSAGE};

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
/// starts authenticated and the gate lets everything through.
#[derive(Debug, Clone)]
pub struct Gate {
    password: Option<Password>,
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
        let failure_log = Arc::new(LogLimit::new(MAX_FAILURE_LOGS_PER_SEC));
        Self { password, failure_log, failures: Arc::default() }
    }

    /// Wrong passwords received since start (AUTH and HELLO's AUTH option).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Whether clients must authenticate.
    pub fn requires_auth(&self) -> bool {
        self.password.is_some()
    }

    /// A new connection's session: unauthenticated exactly when a password is set.
    pub fn session(&self, id: u64, peer: SocketAddr) -> Session {
        let authenticated = !self.requires_auth();
        Session { id, peer, authenticated, name: None, resp3: false, order: Default::default() }
    }

    /// Forwards `command` to the handler or answers it here. AUTH and HELLO's AUTH option
    /// are checked here when a password is set; without one, AUTH is forwarded so the
    /// handler gives its usual "no password configured" error.
    pub fn screen(&self, session: &mut Session, command: Command) -> Screened {
        let Some(password) = &self.password else {
            return Screened::Forward(command);
        };
        match command {
            Command::Auth(candidate) => {
                Screened::Answer(self.authenticate(password, session, &candidate.0))
            }
            Command::Hello(args) => self.hello(password, session, args),
            // The connection loop answers QUIT itself; this is for handlers called directly.
            Command::Quit => Screened::Forward(Command::Quit),
            other if session.authenticated => Screened::Forward(other),
            _ => Screened::Answer(Reply::error(Status::NoAuth, NOAUTH_MESSAGE)),
        }
    }

    /// HELLO authenticates with its AUTH option; without one it needs a session that
    /// already has. An unsupported version is passed on first (NOPROTO), as Redis checks
    /// the version before the credentials.
    fn hello(&self, password: &Password, session: &mut Session, args: HelloArgs) -> Screened {
        if !matches!(args.version, None | Some(2) | Some(3)) {
            return Screened::Forward(Command::Hello(args));
        }
        if let Some(candidate) = &args.auth {
            if let Reply::Error(e) = self.authenticate(password, session, candidate) {
                return Screened::Answer(Reply::Error(e));
            }
        }
        if !session.authenticated {
            return Screened::Answer(Reply::error(Status::NoAuth, HELLO_NOAUTH_MESSAGE));
        }
        Screened::Forward(Command::Hello(args))
    }

    /// Checks one password attempt. A failure leaves an already authenticated session
    /// authenticated, as in Redis.
    fn authenticate(&self, password: &Password, session: &mut Session, candidate: &[u8]) -> Reply {
        if password.matches(candidate) {
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
        Reply::error(Status::NoAuth, WRONGPASS_MESSAGE)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::Screened::{Answer, Forward};
    use super::*;

    fn gate() -> (Gate, Session) {
        let gate = Gate::new(Some(Password::new("pw").unwrap()));
        let session = gate.session(1, "127.0.0.1:1".parse().unwrap());
        (gate, session)
    }

    fn hello(version: Option<i64>, auth: Option<&'static str>) -> Command {
        Command::Hello(HelloArgs { version, auth: auth.map(Bytes::from), setname: None })
    }

    fn noauth(message: &'static str) -> Screened {
        Screened::Answer(Reply::error(Status::NoAuth, message))
    }

    #[test]
    fn open_gate_lets_everything_through() {
        let gate = Gate::default();
        let mut s = gate.session(1, "127.0.0.1:1".parse().unwrap());
        assert!(s.authenticated);
        let auth = Command::Auth("x".into());
        assert_eq!(gate.screen(&mut s, auth.clone()), Forward(auth), "the handler answers AUTH");
        assert_eq!(gate.screen(&mut s, Command::DbSize), Forward(Command::DbSize));
    }

    #[test]
    fn only_auth_hello_and_quit_before_authenticating() {
        let (gate, mut s) = gate();
        assert!(!s.authenticated);
        // (command, answer)
        let cases = [
            (Command::Get("k".into()), noauth(NOAUTH_MESSAGE)), // data
            (Command::Ping(None), noauth(NOAUTH_MESSAGE)),      // PING too, as in Redis
            (Command::Quit, Forward(Command::Quit)),            // QUIT always
            (hello(Some(3), None), noauth(HELLO_NOAUTH_MESSAGE)), // HELLO without AUTH
            (hello(Some(9), None), Forward(hello(Some(9), None))), // bad version: NOPROTO first
            (Command::Auth("nope".into()), noauth(WRONGPASS_MESSAGE)), // wrong password
        ];
        for (command, want) in cases {
            assert_eq!(gate.screen(&mut s, command.clone()), want, "{command:?}");
            assert!(!s.authenticated, "{command:?}");
        }
        assert_eq!(gate.screen(&mut s, Command::Auth("pw".into())), Answer(Reply::Ok));
        assert!(s.authenticated);
        assert_eq!(gate.screen(&mut s, Command::DbSize), Forward(Command::DbSize));
        let _ = gate.screen(&mut s, Command::Auth("nope".into()));
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
