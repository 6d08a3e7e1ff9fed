//! The manual pages are clean under `mandoc -Tlint -W warning` (warnings
//! and worse; the style notes mandoc also prints, such as a referenced
//! page not installed on this machine, are not counted), and each has the
//! sections a lab handout points to: EXAMPLES with the article's commands
//! and COMPATIBILITY pointing to docs/compat.md.

use rnet_testkit::{find_program, skip};
use std::path::Path;
use std::process::Command;

const PAGES: &[(&str, &[&str])] = &[
    ("man/rnc.1", &["rnc -l 5555", "rnc 127.0.0.1 5555"]),
    (
        "man/rnetstat.8",
        &["rnetstat -nat | grep 5555", "rnetstat --watch"],
    ),
    (
        "man/rfw.8",
        &[
            "rfw -I OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP",
            "rfw -L OUTPUT -vn",
        ],
    ),
];

#[test]
fn man_pages_are_lint_clean_with_examples_and_compatibility() {
    let Some(mandoc) = find_program("mandoc") else {
        skip(
            "man_lint",
            "mandoc is not installed (apt-get install mandoc)",
        );
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (page, examples) in PAGES {
        let path = root.join(page);
        let out = Command::new(&mandoc)
            .args(["-Tlint", "-W", "warning"])
            .arg(&path)
            .env("LC_ALL", "C")
            .output()
            .expect("run mandoc");
        // mandoc also complains about the system's own outdated mandoc.db;
        // that line names no page of ours.
        let page_lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&out.stderr).lines())
            .filter(|l| l.contains(page))
            .map(str::to_string)
            .collect();
        assert!(page_lines.is_empty(), "{page}: {page_lines:#?}");
        let text = std::fs::read_to_string(&path).expect("read page");
        let section = |name: &str| {
            let start = text.find(&format!("\n.Sh {name}\n"))?;
            let rest = &text[start + 5..];
            Some(rest[..rest.find("\n.Sh ").unwrap_or(rest.len())].to_string())
        };
        let ex = section("EXAMPLES").unwrap_or_else(|| panic!("{page}: no EXAMPLES"));
        for e in *examples {
            assert!(ex.contains(e), "{page}: EXAMPLES lacks `{e}'");
        }
        let compat = section("COMPATIBILITY").unwrap_or_else(|| panic!("{page}: no COMPATIBILITY"));
        assert!(
            compat.contains("docs/compat.md"),
            "{page}: COMPATIBILITY points to docs/compat.md"
        );
    }
}
