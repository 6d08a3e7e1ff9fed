//! A small unified line diff for test failure messages. Lines are shown
//! with a `|` after their last character, so trailing spaces (which
//! matter in netstat's columns) are visible, and with tabs, carriage
//! returns and other control characters escaped (`\t`, `\r`, `\x01`).

/// One step of the edit script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Same(usize, usize),
    Del(usize),
    Add(usize),
}

fn edit_script(a: &[&str], b: &[&str]) -> Vec<Op> {
    let (n, m) = (a.len(), b.len());
    // lcs[i][j] = LCS length of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push(Op::Same(i, j));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(Op::Del(i));
            i += 1;
        } else {
            ops.push(Op::Add(j));
            j += 1;
        }
    }
    ops
}

/// `line` with control characters escaped, so a stray `\r` or tab shows.
fn shown(line: &str) -> String {
    let mut s = String::with_capacity(line.len());
    for ch in line.chars() {
        match ch {
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => s.push_str(&format!("\\x{:02x}", c as u32)),
            c => s.push(c),
        }
    }
    s
}

/// Splits text into lines; a missing final newline is shown as a marker line.
fn lines_of(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.split('\n').map(|l| format!("{}|", shown(l))).collect();
    if text.ends_with('\n') || text.is_empty() {
        v.pop();
    } else if let Some(last) = v.last_mut() {
        last.push_str("  (no newline at end)");
    }
    v
}

/// A unified diff (`--- old_label` / `+++ new_label`, `@@` hunks with
/// `context` lines around changes) of two texts; empty when they are equal.
/// Very long inputs are shown in full one after the other instead.
pub fn unified_diff(
    old_label: &str,
    new_label: &str,
    old: &str,
    new: &str,
    context: usize,
) -> String {
    if old == new {
        return String::new();
    }
    let a_owned = lines_of(old);
    let b_owned = lines_of(new);
    let a: Vec<&str> = a_owned.iter().map(String::as_str).collect();
    let b: Vec<&str> = b_owned.iter().map(String::as_str).collect();
    let mut out = format!("--- {old_label}\n+++ {new_label}\n");
    if a.len().saturating_mul(b.len()) > 4_000_000 {
        out.push_str(&format!(
            "(too long to diff; {} vs {} lines)\n",
            a.len(),
            b.len()
        ));
        for l in &a {
            out.push_str(&format!("-{l}\n"));
        }
        for l in &b {
            out.push_str(&format!("+{l}\n"));
        }
        return out;
    }
    let ops = edit_script(&a, &b);
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| !matches!(o, Op::Same(..)))
        .map(|(k, _)| k)
        .collect();
    let mut k = 0;
    while k < changed.len() {
        // Grow a hunk while the next change is within 2*context.
        let start = changed[k].saturating_sub(context);
        let mut end = changed[k];
        while k + 1 < changed.len() && changed[k + 1] <= end + 2 * context + 1 {
            k += 1;
            end = changed[k];
        }
        let end = (end + context + 1).min(ops.len());
        // Line numbers for the header.
        let (mut a_start, mut b_start) = (None, None);
        let (mut a_len, mut b_len) = (0usize, 0usize);
        let mut body = String::new();
        for op in &ops[start..end] {
            match *op {
                Op::Same(i, j) => {
                    a_start.get_or_insert(i);
                    b_start.get_or_insert(j);
                    a_len += 1;
                    b_len += 1;
                    body.push_str(&format!(" {}\n", a[i]));
                }
                Op::Del(i) => {
                    a_start.get_or_insert(i);
                    a_len += 1;
                    body.push_str(&format!("-{}\n", a[i]));
                }
                Op::Add(j) => {
                    b_start.get_or_insert(j);
                    b_len += 1;
                    body.push_str(&format!("+{}\n", b[j]));
                }
            }
        }
        let a_from = a_start.map_or(0, |s| s + 1);
        let b_from = b_start.map_or(0, |s| s + 1);
        out.push_str(&format!(
            "@@ -{a_from},{a_len} +{b_from},{b_len} @@\n{body}"
        ));
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unified_diff;

    #[test]
    fn equal_texts_give_nothing() {
        assert_eq!(unified_diff("a", "b", "x\ny\n", "x\ny\n", 3), "");
    }

    #[test]
    fn shows_changed_line_with_end_marker() {
        let d = unified_diff("a", "b", "x\ny \nz\n", "x\ny\nz\n", 1);
        assert!(d.contains("-y |\n+y|\n"), "{d}");
        assert!(d.contains("@@ -1,3 +1,3 @@"), "{d}");
    }
}
