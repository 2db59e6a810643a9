//! Redis glob patterns (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]` and `\` escapes,
//! matched without recursion, so a hostile pattern costs at most pattern x text steps.
//! Used by CONFIG GET (case-insensitive), COMMAND LIST FILTERBY PATTERN, and KEYS/SCAN.

/// Whether `text` matches `pattern`, ignoring ASCII case when `nocase`.
pub fn matches(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: the pattern just past it, and the text position
    // it has swallowed up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if pattern.get(p) == Some(&b'*') {
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
            star = Some((p, t));
            continue;
        }
        if let Some((hit, next)) = one(pattern, p, text[t], nocase) {
            if hit {
                p = next;
                t += 1;
                continue;
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

/// Matches the single-character token at `p` against `c`: whether it matched and where the
/// next token starts; `None` at the end of the pattern.
fn one(pattern: &[u8], p: usize, c: u8, nocase: bool) -> Option<(bool, usize)> {
    let eq = |a: u8, b: u8| if nocase { a.eq_ignore_ascii_case(&b) } else { a == b };
    match *pattern.get(p)? {
        b'?' => Some((true, p + 1)),
        b'\\' if p + 1 < pattern.len() => Some((eq(pattern[p + 1], c), p + 2)),
        b'[' => Some(class(pattern, p + 1, c, nocase)),
        lit => Some((eq(lit, c), p + 1)),
    }
}

/// A `[...]` class starting after its `[`: whether `c` is in it and where it ends. An
/// unterminated class runs to the end of the pattern, as in Redis.
fn class(pattern: &[u8], mut p: usize, c: u8, nocase: bool) -> (bool, usize) {
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let c = fold(c);
    let not = pattern.get(p) == Some(&b'^');
    if not {
        p += 1;
    }
    let mut hit = false;
    while let Some(&b) = pattern.get(p) {
        match b {
            b']' => return (hit != not, p + 1),
            b'\\' if p + 1 < pattern.len() => {
                hit |= fold(pattern[p + 1]) == c;
                p += 2;
            }
            _ if pattern.get(p + 1) == Some(&b'-') && p + 2 < pattern.len() => {
                let (mut lo, mut hi) = (fold(b), fold(pattern[p + 2]));
                if lo > hi {
                    std::mem::swap(&mut lo, &mut hi);
                }
                hit |= (lo..=hi).contains(&c);
                p += 3;
            }
            _ => {
                hit |= fold(b) == c;
                p += 1;
            }
        }
    }
    (hit != not, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_redis() {
        // (pattern, text, nocase, matches)
        let cases = [
            ("*", "", false, true),
            ("*", "anything", false, true),
            ("h?llo", "hello", false, true),
            ("h*llo", "heeeello", false, true),
            ("h[ae]llo", "hallo", false, true),
            ("h[ae]llo", "hillo", false, false),
            ("h[^e]llo", "hallo", false, true),
            ("h[^e]llo", "hello", false, false),
            ("h[a-b]llo", "hbllo", false, true),
            ("h[b-a]llo", "hallo", false, true), // reversed range
            ("h\\*llo", "h*llo", false, true),
            ("h\\*llo", "hello", false, false),
            ("MAX*", "maxmemory", true, true),
            ("MAX*", "maxmemory", false, false),
            ("*a*b*c", "xaxbxc", false, true),
            ("*a*b*c", "xaxbx", false, false),
            ("a*", "", false, false),
            ("[abc", "b", false, true), // unterminated class
        ];
        for (p, t, nocase, want) in cases {
            assert_eq!(matches(p.as_bytes(), t.as_bytes(), nocase), want, "{p} vs {t}");
        }
    }

    #[test]
    fn hostile_patterns_stay_linear_ish() {
        let pattern = "*a".repeat(200) + "b";
        let text = "a".repeat(5000);
        assert!(!matches(pattern.as_bytes(), text.as_bytes(), false));
    }
}
