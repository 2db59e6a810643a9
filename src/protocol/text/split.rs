//! Splitting an inline request line into arguments, byte for byte like Redis's
//! `sdssplitargs`, so `redis-cli`-style and telnet input means the same thing here.
//!
//! Owns only the quoting rules; line framing and limits are in `request.rs`.
//!
//! ```text
//! SET k "a\x41\n" 'it\'s'   ->   ["SET", "k", "aA\n", "it's"]
//! ```

use bytes::Bytes;

/// Splits `line` (without its line ending) into arguments. Returns `None` for unbalanced
/// quotes: an unterminated quote, or a closing quote followed by something other than
/// whitespace. Unquoted arguments are zero-copy slices of `line`.
pub(crate) fn split_args(line: &Bytes) -> Option<Vec<Bytes>> {
    // Redis splits a C string, so a NUL byte ends the line there; stopping at the same
    // place keeps both servers agreeing on what an inline request says.
    let len = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    let s = line.get(..len).unwrap_or_default();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while s.get(i).is_some_and(|&b| is_c_space(b)) {
            i += 1;
        }
        if i >= s.len() {
            return Some(args);
        }
        let (arg, next) = split_one(line, s, i)?;
        args.push(arg);
        i = next;
    }
}

/// C `isspace`: used for skipping blanks and after a closing quote.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Bytes that end an unquoted argument in `sdssplitargs` (a narrower set than `isspace`:
/// vertical tab and form feed are part of the argument).
fn ends_unquoted(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Reads the argument starting at `start` (not a blank). Returns it and where it ended.
fn split_one(line: &Bytes, s: &[u8], start: usize) -> Option<(Bytes, usize)> {
    let mut i = start;
    while s.get(i).is_some_and(|&b| !ends_unquoted(b) && b != b'"' && b != b'\'') {
        i += 1;
    }
    let quote = match s.get(i) {
        Some(&q @ (b'"' | b'\'')) => q,
        _ => return Some((line.slice(start..i), i)),
    };
    // A quote may start mid-argument (`ab"cd"` is `abcd`); the argument then ends at the
    // closing quote, so at most one quoted section follows the plain prefix.
    let mut out = s.get(start..i).unwrap_or_default().to_vec();
    let end = if quote == b'"' {
        double_quoted(s, i + 1, &mut out)?
    } else {
        single_quoted(s, i + 1, &mut out)?
    };
    Some((Bytes::from(out), end))
}

/// Reads a double-quoted section whose body starts at `i`, handling `\xHH` and the C
/// escapes. Returns the index just past the closing quote.
fn double_quoted(s: &[u8], mut i: usize, out: &mut Vec<u8>) -> Option<usize> {
    loop {
        match *s.get(i)? {
            b'\\' if s.get(i + 1) == Some(&b'x') => {
                if let Some(byte) = hex_pair(s.get(i + 2), s.get(i + 3)) {
                    out.push(byte);
                    i += 4;
                } else {
                    // `\x` without two hex digits is just an escaped `x`.
                    out.push(b'x');
                    i += 2;
                }
            }
            b'\\' if i + 1 < s.len() => {
                out.push(match s.get(i + 1).copied().unwrap_or_default() {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => other,
                });
                i += 2;
            }
            b'"' => return closing_quote(s, i + 1),
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
}

/// Reads a single-quoted section whose body starts at `i`; only `\'` is an escape.
fn single_quoted(s: &[u8], mut i: usize, out: &mut Vec<u8>) -> Option<usize> {
    loop {
        match *s.get(i)? {
            b'\\' if s.get(i + 1) == Some(&b'\'') => {
                out.push(b'\'');
                i += 2;
            }
            b'\'' => return closing_quote(s, i + 1),
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
}

/// A closing quote must be followed by whitespace or the end of the line.
fn closing_quote(s: &[u8], after: usize) -> Option<usize> {
    match s.get(after) {
        Some(&b) if !is_c_space(b) => None,
        _ => Some(after),
    }
}

fn hex_pair(hi: Option<&u8>, lo: Option<&u8>) -> Option<u8> {
    let digit = |b: Option<&u8>| char::from(*b?).to_digit(16);
    let value = digit(hi)? * 16 + digit(lo)?;
    u8::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arguments as plain vectors, or `None` for unbalanced quotes.
    type Split = Option<Vec<Vec<u8>>>;

    fn split(s: &[u8]) -> Split {
        split_args(&Bytes::copy_from_slice(s)).map(|v| v.iter().map(|b| b.to_vec()).collect())
    }

    fn v(items: &[&[u8]]) -> Split {
        Some(items.iter().map(|b| b.to_vec()).collect())
    }

    #[test]
    fn splits_like_sdssplitargs() {
        let cases: &[(&[u8], Split)] = &[
            (b"", v(&[])),                                                   // empty line
            (b"   \t ", v(&[])),                                             // only blanks
            (b"GET k", v(&[b"GET", b"k"])),                                  // plain words
            (b"  GET   k  ", v(&[b"GET", b"k"])),                            // extra blanks
            (b"a\tb\rc", v(&[b"a", b"b", b"c"])),                            // tab and CR separate
            (b"a\x0bb", v(&[b"a\x0bb"])), // VT is not a separator
            (b"\x0b a", v(&[b"a"])),      // but is skipped as a blank
            (br#"SET k "hello world""#, v(&[b"SET", b"k", b"hello world"])), // double quotes
            (br#""""#, v(&[b""])),        // empty quoted argument
            (br#""a\nb\r\t\b\a""#, v(&[b"a\nb\r\t\x08\x07"])), // C escapes
            (br#""\\ \" \q""#, v(&[b"\\ \" q"])), // backslash, quote, other
            (br#""\x41\x4a\x7e\xff""#, v(&[b"AJ~\xff"])), // hex escapes
            (br#""\x4""#, v(&[b"x4"])),   // short hex is escaped x
            (br#""\xZZ""#, v(&[b"xZZ"])), // bad hex is escaped x
            (b"'it\\'s'", v(&[b"it's"])), // single quote escape
            (br#"'a\nb'"#, v(&[b"a\\nb"])), // no C escapes in ''
            (br#"'say "hi"'"#, v(&[b"say \"hi\""])), // " inside ''
            (br#"ab"cd" e"#, v(&[b"abcd", b"e"])), // quote mid-argument
            (br#""a"b"#, None),           // text after closing "
            (br#"'a'b"#, None),           // text after closing '
            (br#""abc"#, None),           // unterminated "
            (b"'abc", None),              // unterminated '
            (br#""abc\"#, None),          // trailing backslash
            (br#""a"	b"#, v(&[b"a", b"b"])), // tab after closing quote
            (b"a\0b c", v(&[b"a"])),      // NUL ends the line
            (b"\"a\0\"", None),           // NUL inside quotes
        ];
        for (input, want) in cases {
            assert_eq!(split(input), *want, "input {:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn unquoted_arguments_share_the_line() {
        let line = Bytes::from_static(b"GET key");
        let args = split_args(&line).expect("balanced");
        assert_eq!(args[1].as_ptr(), line[4..].as_ptr());
    }
}
