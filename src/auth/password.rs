//! [`Password`]: a secret that never prints, loads from a flag or a file, and compares in
//! time that does not depend on its contents.

use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// Most bytes read from a password file; a longer file is refused rather than slurped
/// (someone may point the flag at a log or a device by mistake).
pub const MAX_PASSWORD_FILE_LEN: u64 = 64 * 1024;

/// Why a password could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// An empty password would let anyone in while looking protected.
    #[error("the password is empty")]
    Empty,
    /// The password file is empty or its first line is.
    #[error("the password file {0} is empty (the password is its first line)")]
    EmptyFile(PathBuf),
    /// The password file is over [`MAX_PASSWORD_FILE_LEN`].
    #[error("the password file {path} is over {max} bytes")]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        max: u64,
    },
    /// The password file could not be read.
    #[error("cannot read the password file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// A non-empty password. `Debug` prints `Password(<redacted>)`, so a config struct that
/// holds one can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Bytes);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    /// A password from its bytes; refuses an empty one.
    pub fn new(secret: impl Into<Bytes>) -> Result<Self, PasswordError> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(PasswordError::Empty);
        }
        Ok(Self(secret))
    }

    /// The first line of the file at `path`, without its line ending (`\n` or `\r\n`).
    /// Nothing else is trimmed: spaces may be part of the password.
    pub fn from_file(path: &Path) -> Result<Self, PasswordError> {
        let read_err = |source| PasswordError::Read { path: path.to_owned(), source };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut data = Vec::new();
        file.take(MAX_PASSWORD_FILE_LEN + 1).read_to_end(&mut data).map_err(read_err)?;
        if data.len() as u64 > MAX_PASSWORD_FILE_LEN {
            let max = MAX_PASSWORD_FILE_LEN;
            return Err(PasswordError::FileTooLarge { path: path.to_owned(), max });
        }
        let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Self::new(Bytes::copy_from_slice(line))
            .map_err(|_| PasswordError::EmptyFile(path.to_owned()))
    }

    /// The password given by one of a pair of flags (`--x PASS` / `--x-file PATH`), if any.
    pub fn from_flag_or_file(
        value: Option<String>,
        file: Option<&Path>,
    ) -> Result<Option<Self>, PasswordError> {
        match (value, file) {
            (Some(v), _) => Self::new(v).map(Some),
            (None, Some(path)) => Self::from_file(path).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// The secret itself, for sending it (the client's AUTH).
    pub fn expose(&self) -> &Bytes {
        &self.0
    }

    /// Whether `candidate` is the password, in time that depends only on the candidate's
    /// length (which the sender knows anyway): every candidate byte is compared, against
    /// the secret repeated, and the differences are OR-ed together without branching, so
    /// neither how many leading bytes match nor the secret's length shows in the timing.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let secret = &self.0[..];
        let mut diff = u64::from(candidate.len() != secret.len());
        for (i, &c) in candidate.iter().enumerate() {
            // `secret` is never empty, so the modulo cannot divide by zero.
            diff |= u64::from(c ^ secret[i % secret.len()]);
        }
        // Keeps the optimiser from turning the fold into an early exit.
        std::hint::black_box(diff) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_exact_password() {
        let p = Password::new("s3cret").unwrap();
        // (candidate, matches)
        let cases: [(&[u8], bool); 7] = [
            (b"s3cret", true),        // exact
            (b"s3cre", false),        // prefix
            (b"s3crets", false),      // longer
            (b"s3crets3cret", false), // the secret twice (the comparison wraps)
            (b"S3cret", false),       // case matters
            (b"", false),             // empty
            (b"s3cre\x00", false),    // last byte differs
        ];
        for (candidate, want) in cases {
            assert_eq!(p.matches(candidate), want, "{:?}", String::from_utf8_lossy(candidate));
        }
    }

    #[test]
    fn empty_passwords_are_refused() {
        assert!(matches!(Password::new(""), Err(PasswordError::Empty)));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Password::new("hunter2").unwrap();
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
    }

    #[test]
    fn file_gives_its_first_line_without_the_line_ending() {
        let dir = crate::testdir::fresh("pw");
        // (file contents, password or None for "refused")
        let cases: [(&[u8], Option<&[u8]>); 6] = [
            (b"pw\n", Some(b"pw")),         // trailing newline
            (b"pw\r\nmore\n", Some(b"pw")), // CRLF, later lines ignored
            (b" pw ", Some(b" pw ")),       // spaces kept
            (b"pw", Some(b"pw")),           // no newline
            (b"\nsecond", None),            // empty first line
            (b"", None),                    // empty file
        ];
        for (i, (contents, want)) in cases.into_iter().enumerate() {
            let path = dir.join(format!("pw{i}"));
            std::fs::write(&path, contents).unwrap();
            let got = Password::from_file(&path).ok();
            assert_eq!(got.as_ref().map(|p| &p.expose()[..]), want, "case {i}");
        }
        let missing = Password::from_file(&dir.join("missing"));
        assert!(matches!(missing, Err(PasswordError::Read { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
