#!/usr/bin/env bash
# The Debian packages, end to end, as root (called by .ci/run after the
# test suite): build both packages, lintian (no errors), install
# rnet-tools, run a smoke subset of the lab suite against the INSTALLED
# binaries, render `man rnc`, install rnet-tools-compat and check that nc
# and netstat are ours, purge it and check that the originals are back
# (same paths, same sha256, same alternatives), purge rnet-tools.
#
# Leaves the machine as it found it, also when a step fails: a trap purges
# both packages, removes a diversion or alternative left behind, and checks
# the state against the one recorded at the start. Refuses to start when
# either package is already installed (that state could not be restored).
#
# Needs: root, dpkg, apt-get, cargo; installs lintian and man-db if missing;
# checks the zsh and fish completions where zsh and fish are installed;
# the lab tests need what .ci/run installs (iproute2, iptables, net-tools,
# netcat-openbsd).
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

say() { echo "ci-roundtrip: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "needs root (installs and removes packages)"
for p in rnet-tools rnet-tools-compat; do
    if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qv '^not-installed$'; then
        die "$p is already installed here; this check would not leave it as it is:" \
            "remove it first (apt-get purge rnet-tools-compat rnet-tools)"
    fi
done
if dpkg-divert --list | grep -q 'by rnet-tools-compat$'; then
    die "a diversion by rnet-tools-compat is left over: $(dpkg-divert --list | grep rnet-tools-compat)"
fi

need=()
command -v lintian >/dev/null || need+=(lintian)
command -v man >/dev/null || need+=(man-db)
if ((${#need[@]})); then
    say "installing ${need[*]}"
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# -- the state to come back to -------------------------------------------------
state() {
    echo "nc -> $(readlink -f /usr/bin/nc 2>/dev/null || echo none)"
    echo "netcat -> $(readlink -f /usr/bin/netcat 2>/dev/null || echo none)"
    for f in /bin/netstat /usr/bin/netstat /usr/share/man/man8/netstat.8.gz \
        /usr/share/man/man1/nc.1.gz; do
        if [[ -e $f ]]; then
            echo "$f -> $(readlink -f "$f") sha256 $(sha256sum <"$f" | cut -d' ' -f1)"
        else
            echo "$f: absent"
        fi
    done
    update-alternatives --query nc 2>/dev/null || echo "no nc alternatives"
    echo "diversions:"
    dpkg-divert --list | grep -E 'netstat|/nc' | sort || true
}
before=$(state)

cleanup() {
    local rc=$?
    set +e
    for p in rnet-tools-compat rnet-tools; do
        if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qv '^not-installed$'; then
            say "cleanup: purging $p"
            dpkg --purge "$p" >/dev/null
        fi
    done
    # What a half-done maintainer script could have left behind.
    if update-alternatives --list nc 2>/dev/null | grep -qx /usr/bin/rnc; then
        say "cleanup: removing the nc alternative /usr/bin/rnc"
        update-alternatives --remove nc /usr/bin/rnc
    fi
    local line from to
    while read -r line; do
        [[ -n $line ]] || continue
        from=$(sed -n 's/^diversion of \(.*\) to .* by rnet-tools-compat$/\1/p' <<<"$line")
        to=$(sed -n 's/^diversion of .* to \(.*\) by rnet-tools-compat$/\1/p' <<<"$line")
        say "cleanup: removing $line"
        dpkg-divert --package rnet-tools-compat --remove --rename --divert "$to" "$from"
    done < <(dpkg-divert --list | grep 'by rnet-tools-compat$')
    local after
    after=$(state)
    if [[ $after != "$before" ]]; then
        say "the machine is NOT as it was before this check:"
        diff <(echo "$before") <(echo "$after") >&2
        rc=1
    fi
    if ((rc == 0)); then
        say "PASS: packages built, lint-clean, installed, checked and purged; machine as before"
    else
        say "FAILED (exit $rc)"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "before:"
echo "$before" | sed 's/^/  /' >&2

# -- build and lint ------------------------------------------------------------
bash packaging/build-debs.sh
deb=$(ls target/debian/rnet-tools_*.deb)
cdeb=$(ls target/debian/rnet-tools-compat_*.deb)
say "lintian:"
lintian --fail-on error --display-info --pedantic "$deb" "$cdeb" || die "lintian reports errors"

# -- rnet-tools, installed -----------------------------------------------------
apt-get install -y -qq "./$deb" >/dev/null
for t in rnc rnetstat rfw; do
    [[ $(dpkg-query -S "/usr/bin/$t") == "rnet-tools: /usr/bin/$t" ]] ||
        die "/usr/bin/$t is not from rnet-tools"
done
say "lab smoke subset against /usr/bin/{rnc,rnetstat,rfw}"
RNETSTAT_BIN=/usr/bin/rnetstat RNC_BIN=/usr/bin/rnc RFW_BIN=/usr/bin/rfw \
    timeout 600 cargo test --locked --test lab -- \
    scenario_01_listen scenario_03_client_closes_first scenario_14_refused

# zsh and fish run with a throw-away HOME (fish writes its variables
# there), and compinit with -D (no dump file: `-d /dev/null` would have it
# move its dump over /dev/null, replacing the device with a file).
shell_home=$(mktemp -d /tmp/rnet-roundtrip-home.XXXXXX)
for t in rnc rnetstat rfw; do
    spec=$(bash -c "source /usr/share/bash-completion/completions/$t && complete -p $t") ||
        die "the installed bash completion of $t does not load"
    say "bash completion: $spec"
    if command -v zsh >/dev/null; then
        zsh -n "/usr/share/zsh/vendor-completions/_$t" || die "_$t is not valid zsh"
        [[ $(HOME=$shell_home zsh -fc "autoload -U compinit && compinit -u -D && print -r -- \${_comps[$t]}") == "_$t" ]] ||
            die "zsh's compinit does not pick up _$t from vendor-completions"
    fi
    if command -v fish >/dev/null; then
        HOME=$shell_home XDG_CONFIG_HOME=$shell_home XDG_DATA_HOME=$shell_home \
            fish --no-execute "/usr/share/fish/vendor_completions.d/$t.fish" ||
            die "$t.fish is not valid fish"
        [[ -n $(HOME=$shell_home XDG_CONFIG_HOME=$shell_home XDG_DATA_HOME=$shell_home \
            fish -c "complete -C '$t -'") ]] || die "fish completes nothing for '$t -'"
    fi
done
rm -rf "$shell_home"
[[ -c /dev/null ]] || die "/dev/null is no longer a character device"
say "zsh completions: $(command -v zsh >/dev/null && echo 'parse and load through compinit' || echo 'not checked (no zsh)');" \
    "fish: $(command -v fish >/dev/null && echo 'parse and complete' || echo 'not checked (no fish)')"

[[ $(man -w rnc) == /usr/share/man/man1/rnc.1.gz ]] || die "man -w rnc: $(man -w rnc)"
page=$(MANPAGER=cat MANWIDTH=80 timeout 60 man rnc 2>/dev/null) || die "man rnc failed"
if ! grep -q '^SYNOPSIS' <<<"$page" || ! grep -q '^DESCRIPTION' <<<"$page"; then
    die "man rnc does not render (no SYNOPSIS/DESCRIPTION section)"
fi
say "man rnc renders: $(wc -l <<<"$page") lines"
for t in rnetstat rfw; do
    MANPAGER=cat MANWIDTH=80 timeout 60 man 8 "$t" 2>/dev/null | grep -q '^SYNOPSIS' ||
        die "man 8 $t does not render"
done

# -- rnet-tools-compat: in ... -------------------------------------------------
apt-get install -y -qq "./$cdeb" >/dev/null
nc_help=$(timeout 10 nc -h 2>&1 || true)
grep -q 'rnc additions:' <<<"$nc_help" || die "nc -h is not rnc's: $nc_help"
[[ $(readlink -f /usr/bin/nc) == /usr/bin/rnc ]] || die "/usr/bin/nc -> $(readlink -f /usr/bin/nc)"
netstat_v=$(timeout 10 netstat -V 2>&1 || true)
grep -q 'rnetstat .* from rnet-tools' <<<"$netstat_v" || die "netstat -V is not rnetstat's: $netstat_v"
[[ $(readlink -f /usr/share/man/man8/netstat.8.gz) == /usr/share/man/man8/rnetstat.8.gz ]] ||
    die "the netstat(8) page is not rnetstat's"
if grep -q '^/bin/netstat -> .* sha256 ' <<<"$before"; then
    kept=$(sha256sum </bin/netstat.net-tools | cut -d' ' -f1) ||
        die "net-tools' netstat was not kept as /bin/netstat.net-tools"
    grep -q "^/bin/netstat -> .* sha256 $kept\$" <<<"$before" ||
        die "/bin/netstat.net-tools (sha256 $kept) is not the netstat of before"
    say "net-tools' netstat kept as /bin/netstat.net-tools, sha256 $kept"
fi
say "compat installed: nc -> $(readlink -f /usr/bin/nc), netstat -> $(readlink -f /usr/bin/netstat)"
dpkg-divert --list | grep 'rnet-tools-compat' | sed 's/^/  /' >&2

# ... an administrator's manual choice is kept over priority 60 ...
if [[ -x /bin/nc.openbsd ]]; then
    update-alternatives --set nc /bin/nc.openbsd >/dev/null
    apt-get install -y -qq --reinstall "./$cdeb" >/dev/null
    [[ $(readlink -f /usr/bin/nc) == /usr/bin/nc.openbsd ]] ||
        die "a reinstall overrode the manual choice nc.openbsd"
    update-alternatives --auto nc >/dev/null
    [[ $(readlink -f /usr/bin/nc) == /usr/bin/rnc ]] || die "auto mode does not pick rnc"
    say "manual choice kept across a reinstall; auto mode picks rnc"
fi

# ... and out again.
apt-get purge -y -qq rnet-tools-compat >/dev/null
after_compat=$(state)
if [[ $after_compat != "$before" ]]; then
    diff <(echo "$before") <(echo "$after_compat") >&2
    die "purging rnet-tools-compat did not restore the originals"
fi
say "compat purged: originals back (nc -> $(readlink -f /usr/bin/nc)," \
    "netstat sha256 $(sha256sum </usr/bin/netstat | cut -d' ' -f1))"

apt-get purge -y -qq rnet-tools >/dev/null
