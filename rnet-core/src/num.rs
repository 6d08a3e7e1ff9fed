//! Numbers read as the C library reads them, where a tool's original
//! does: net-tools reads socket inodes (`rnet_core::procfd`) and iptables
//! reads ports and other numbers (rfw's `xtables_strtoui`) with
//! `strtoul(s, &end, 0)` and then insists that the whole text was used.

/// Reads `s` as C's `strtoul(s, &end, 0)` does for a caller that then
/// requires `*end == '\0'`: leading blanks (C's `isspace`) and one `+`
/// allowed; `0x` or `0X` for hexadecimal, a leading `0` for octal, else
/// decimal; every byte after that a digit of its base.
///
/// `None` for no digits (`""`, `"0x"`), anything left over (`"22abc"`,
/// `"08"`), a `-` sign (`strtoul` would negate the value; neither caller
/// takes one) and a value beyond `u64` (`strtoul`'s `ERANGE`).
pub fn strtoul_base0(s: &[u8]) -> Option<u64> {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))?;
    let t = &s[start..];
    let t = t.strip_prefix(b"+").unwrap_or(t);
    let (digits, radix) = match t {
        [b'0', b'x' | b'X', rest @ ..] => (rest, 16),
        [b'0', rest @ ..] if !rest.is_empty() => (rest, 8),
        _ => (t, 10),
    };
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |v, &b| {
        let d = char::from(b).to_digit(radix)?;
        v.checked_mul(u64::from(radix))?.checked_add(u64::from(d))
    })
}

/// The seeded generator of the crate's property tests (xorshift64): the
/// same seed gives the same cases on every run, without a dependency.
#[cfg(test)]
pub(crate) fn xorshift64(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_signs_and_leftovers_as_strtoul() {
        let n = |s: &str| strtoul_base0(s.as_bytes());
        assert_eq!(n("22"), Some(22));
        assert_eq!(n("026"), Some(22));
        assert_eq!(n("0x16"), Some(22));
        assert_eq!(n("0X16"), Some(22));
        assert_eq!(n("0xfF"), Some(255));
        assert_eq!(n("0"), Some(0));
        assert_eq!(n("00"), Some(0));
        assert_eq!(n(" \t\n\r\x0b\x0c+22"), Some(22));
        assert_eq!(n("18446744073709551615"), Some(u64::MAX));
        assert_eq!(n("0xffffffffffffffff"), Some(u64::MAX));
        for bad in [
            "",
            " ",
            "+",
            "0x",
            "08",
            "09",
            "0xg",
            "-1",
            "+-1",
            "++1",
            "+ 1",
            "0x+5",
            "0+5",
            "22abc",
            "22 ",
            "1_000",
            "18446744073709551616",
            "0x10000000000000000",
            "\u{663}",
        ] {
            assert_eq!(n(bad), None, "{bad:?}");
        }
        assert_eq!(strtoul_base0(b"1\xff"), None);
    }

    #[test]
    fn agrees_with_a_plain_reading_on_seeded_words() {
        // Words of sign, prefix and digit bytes, checked against a reading
        // written from the C standard's words with std's parsers.
        let mut next = xorshift64(0x1234_5678_9abc_def1);
        let alphabet = b" +-0x7X9aF8g";
        for _ in 0..20_000 {
            let len = (next() % 8) as usize;
            let w: String = (0..len)
                .map(|_| char::from(alphabet[(next() % alphabet.len() as u64) as usize]))
                .collect();
            let t = w.trim_start_matches(' ');
            let t = t.strip_prefix('+').unwrap_or(t);
            let want = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                (!h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| u64::from_str_radix(h, 16).ok())
                    .flatten()
            } else if t.len() > 1 && t.starts_with('0') {
                let o = &t[1..];
                o.bytes()
                    .all(|b| (b'0'..=b'7').contains(&b))
                    .then(|| u64::from_str_radix(o, 8).ok())
                    .flatten()
            } else {
                (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| t.parse().ok())
                    .flatten()
            };
            assert_eq!(strtoul_base0(w.as_bytes()), want, "{w:?}");
        }
    }
}
