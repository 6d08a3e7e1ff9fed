//! Every flag of each tool, read from the tool's own tables (not from the
//! generator's list), appears in each shell's completion script, in the
//! form that shell's script gives it.

use rnet_completions::{generate, SHELLS};
use rnet_core::args::LongOpt;

/// The short letters of a getopt string.
fn letters(optstring: &str) -> Vec<char> {
    optstring
        .chars()
        .filter(|c| *c != ':' && *c != '?')
        .collect()
}

fn longs(table: &[LongOpt]) -> Vec<String> {
    table.iter().map(|o| o.name.to_string()).collect()
}

/// (letters, long names, subcommands) of a tool, from its own tables.
fn tables(tool: &str) -> (Vec<char>, Vec<String>, Vec<String>) {
    match tool {
        "rnc" => (
            letters(rnc::cli::SHORT_OPTS),
            longs(rnc::cli::LONG_OPTS),
            Vec::new(),
        ),
        "rnetstat" => (
            letters(rnetstat::cli::SHORT_OPTS),
            longs(rnetstat::cli::LONG_OPTS),
            Vec::new(),
        ),
        "rfw" => {
            let mut shorts = Vec::new();
            let mut long = Vec::new();
            for o in rfw::cli::OWN_OPTIONS {
                match o.strip_prefix("--") {
                    Some(l) => long.push(l.to_string()),
                    None => shorts.extend(o.strip_prefix('-').and_then(|c| c.chars().next())),
                }
            }
            for o in rfw::argv::known_options() {
                shorts.extend(o.short);
                if !o.long.is_empty() {
                    long.push(o.long.to_string());
                }
            }
            let subs = rfw::cli::SUBCOMMANDS
                .iter()
                .map(|s| s.to_string())
                .collect();
            (shorts, long, subs)
        }
        _ => unreachable!(),
    }
}

/// The words of a bash script (`opts="-4 -6 ..."`, `--port)`).
fn words(script: &str) -> impl Iterator<Item = &str> {
    script.split(|c: char| c.is_whitespace() || matches!(c, '"' | '=' | '|' | ')'))
}

/// Whether `script` (for `shell`) offers the letter `c`.
fn has_short(shell: &str, script: &str, c: char) -> bool {
    match shell {
        "bash" => words(script).any(|w| w == format!("-{c}")),
        "zsh" => script.contains(&format!("'-{c}[")) || script.contains(&format!("'-{c}+[")),
        "fish" => {
            script.contains(&format!(" -s {c} "))
                || script.contains(&format!(" -s {c}\n"))
                || script.contains(&format!(" {c}/"))
        }
        _ => unreachable!(),
    }
}

fn has_long(shell: &str, script: &str, l: &str) -> bool {
    match shell {
        "bash" => words(script).any(|w| w == format!("--{l}")),
        "zsh" => script.contains(&format!("'--{l}[")) || script.contains(&format!("'--{l}=[")),
        "fish" => {
            script.contains(&format!(" -l {l} "))
                || script.contains(&format!(" -l {l}\n"))
                || script.contains(&format!("/{l} "))
                || script.contains(&format!("/{l}= "))
                || script.contains(&format!(" {l} "))
                || script.contains(&format!(" {l}= "))
        }
        _ => unreachable!(),
    }
}

#[test]
fn every_flag_of_every_tool_is_in_every_shell() {
    for tool in rnet_completions::TOOLS {
        let (shorts, long, subs) = tables(tool);
        assert!(shorts.len() + long.len() > 5, "{tool}: tables read");
        for (shell, sh) in SHELLS {
            let script = generate(tool, *sh).expect("known tool");
            assert!(
                script.contains(tool),
                "{tool} {shell}: the script names the tool"
            );
            for c in &shorts {
                assert!(
                    has_short(shell, &script, *c),
                    "{tool} {shell}: -{c} missing"
                );
            }
            for l in &long {
                assert!(has_long(shell, &script, l), "{tool} {shell}: --{l} missing");
            }
            for s in &subs {
                assert!(
                    script.contains(s.as_str()),
                    "{tool} {shell}: subcommand {s} missing"
                );
            }
        }
    }
}

#[test]
fn an_unknown_tool_or_shell_is_refused() {
    assert!(generate("nc", clap_complete::Shell::Bash).is_none());
    let bin = env!("CARGO_BIN_EXE_rnet-completions");
    let out = std::process::Command::new(bin)
        .args(["rnc", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("rnet-completions: unknown shell `tcsh'")
    );
    let out = std::process::Command::new(bin)
        .args(["rnc", "bash"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("complete -F _rnc"));
}
