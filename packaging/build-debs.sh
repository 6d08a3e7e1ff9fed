#!/usr/bin/env bash
# Builds the Debian packages of rnet-tools from this checkout, with
# dpkg-deb (cargo-deb is not used: it is not installed on our machines and
# cannot be fetched as a prebuilt binary; see docs/packaging.md):
#
#   target/debian/rnet-tools_<version>_<arch>.deb   rnc, rnetstat, rfw, man
#                                                    pages, completions, docs
#   target/debian/rnet-tools-compat_<version>_all.deb
#                                                    opt-in: nc through
#                                                    update-alternatives,
#                                                    netstat through dpkg-divert
#
# Needs cargo, dpkg-deb, gzip, strip (binutils); dpkg-shlibdeps (dpkg-dev)
# if present, else objdump. No network beyond crates.io (cargo, --locked).
# Reproducible: every timestamp is the last commit's (SOURCE_DATE_EPOCH),
# files are sorted by dpkg-deb, modes and owners are fixed.
#
# Usage: packaging/build-debs.sh            (from anywhere in the checkout)
set -euo pipefail
umask 022
export LC_ALL=C
cd "$(dirname "$0")/.."
top=$PWD

die() { echo "build-debs.sh: $*" >&2; exit 1; }
for tool in cargo dpkg-deb dpkg gzip strip find sort; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done

# -- version, timestamps -------------------------------------------------------
upstream=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
[[ -n $upstream ]] || die "no [workspace.package] version in Cargo.toml"
# Debian revision 1: the packaging is ours but not part of the upstream
# version, so the package is not native (changelog.gz is CHANGELOG.md,
# changelog.Debian.gz says how the package was made).
version="${upstream}-1"
arch=$(dpkg --print-architecture)
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null) ||
        die "not a git checkout: set SOURCE_DATE_EPOCH"
fi
export SOURCE_DATE_EPOCH
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
maintainer=${DEB_MAINTAINER:-"rnet-tools maintainers <maintainers@users.noreply.r-seed-5aeca85b.example>"}

# -- build ---------------------------------------------------------------------
# `cargo build --release` alone would build only the workspace's root package
# (the cross-tool tests, no binary), so the tools are named.
cargo build --release --locked -p rnc -p rnetstat -p rfw
rel=$top/target/release

# Completions come from the tools' own flag tables, through rnet-completions
# (`rnet-completions TOOL SHELL`); it is a build tool, not shipped.
cargo build --release --locked -p rnet-completions
completions=$rel/rnet-completions

# -- staging -------------------------------------------------------------------
out=$top/target/debian
work=$out/work
rm -rf "$work"
mkdir -p "$work/debian"
# A minimal debian/control, only for dpkg-shlibdeps.
printf 'Source: rnet-tools\n\nPackage: rnet-tools\nArchitecture: any\n' >"$work/debian/control"
root=$work/debian/rnet-tools
croot=$work/debian/rnet-tools-compat

dir() { install -d -m 0755 "$@"; }
gz() { # gz SRC DEST: gzip -9n, fixed mode
    gzip -9nc "$1" >"$2"
    chmod 0644 "$2"
}

# Binaries, stripped as dh_strip does.
dir "$root/usr/bin"
for t in rnc rnetstat rfw; do
    install -m 0755 "$rel/$t" "$root/usr/bin/$t"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note \
        "$root/usr/bin/$t"
done

# Manual pages.
dir "$root/usr/share/man/man1" "$root/usr/share/man/man8"
gz man/rnc.1 "$root/usr/share/man/man1/rnc.1.gz"
gz man/rnetstat.8 "$root/usr/share/man/man8/rnetstat.8.gz"
gz man/rfw.8 "$root/usr/share/man/man8/rfw.8.gz"

# Shell completions.
bash_dir=$root/usr/share/bash-completion/completions
zsh_dir=$root/usr/share/zsh/vendor-completions
fish_dir=$root/usr/share/fish/vendor_completions.d
dir "$bash_dir" "$zsh_dir" "$fish_dir"
for t in rnc rnetstat rfw; do
    "$completions" "$t" bash >"$bash_dir/$t"
    "$completions" "$t" zsh >"$zsh_dir/_$t"
    "$completions" "$t" fish >"$fish_dir/$t.fish"
    for f in "$bash_dir/$t" "$zsh_dir/_$t" "$fish_dir/$t.fish"; do
        [[ -s $f ]] || die "rnet-completions $t printed nothing for $f"
        chmod 0644 "$f"
    done
done

# Documentation: README (compressed, as policy asks of docs over 4 KiB),
# the upstream changelog, the Debian changelog and the DEP-5 copyright.
doc=$root/usr/share/doc/rnet-tools
dir "$doc"
gz README.md "$doc/README.md.gz"
gz CHANGELOG.md "$doc/changelog.gz"
changelog_date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
cat >"$work/changelog.Debian" <<EOF
rnet-tools ($version) unstable; urgency=medium

  * Built by packaging/build-debs.sh from commit $commit; the changes
    themselves are in changelog.gz (CHANGELOG.md of the source tree).

 -- $maintainer  $changelog_date
EOF
gz "$work/changelog.Debian" "$doc/changelog.Debian.gz"

# The crates linked into the binaries, with their licences, from Cargo.lock.
crates=$(cargo tree --locked -e normal -p rnc -p rnetstat -p rfw --prefix none \
    --format '{p}|{l}' | sed -e 's/ (\*)$//' -e '/^$/d' | grep -v ' (/' | sort -u |
    sed 's/^\(.*\) v\([^|]*\)|\(.*\)$/ \1 \2 (\3)/')
year=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y)
{
    cat <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: rnet-tools
Upstream-Contact: $maintainer
Comment: The binaries are statically linked with these Rust crates from
 crates.io, at the versions locked in Cargo.lock, under the licences
 their authors declare in their Cargo.toml:
EOF
    printf '%s\n' "$crates"
    cat <<EOF

Files: *
Copyright: $year rnet-tools maintainers
License: MIT or Apache-2.0

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a
 copy of this software and associated documentation files (the "Software"),
 to deal in the Software without restriction, including without limitation
 the rights to use, copy, modify, merge, publish, distribute, sublicense,
 and/or sell copies of the Software, and to permit persons to whom the
 Software is furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included
 in all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
 OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
 MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
 IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY
 CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT,
 TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
 SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License"); you may
 not use this file except in compliance with the License.
 .
 Unless required by applicable law or agreed to in writing, software
 distributed under the License is distributed on an "AS IS" BASIS,
 WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 See the License for the specific language governing permissions and
 limitations under the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0
 can be found in "/usr/share/common-licenses/Apache-2.0".
EOF
} >"$doc/copyright"
chmod 0644 "$doc/copyright"

# -- compat package: nc and netstat (maintainer scripts in packaging/compat) ---
cdoc=$croot/usr/share/doc/rnet-tools-compat
dir "$croot/bin" "$croot/usr/share/man/man8" "$cdoc"
# net-tools ships /bin/netstat (its path in dpkg's database); the preinst
# diverts it (and, against usr-merge aliasing, /usr/bin/netstat too), so this
# link takes the same path and overwrites no other package's file.
ln -s /usr/bin/rnetstat "$croot/bin/netstat"
ln -s rnetstat.8.gz "$croot/usr/share/man/man8/netstat.8.gz"
install -m 0644 "$doc/copyright" "$cdoc/copyright"
sed "s/^rnet-tools ($version)/rnet-tools-compat ($version)/" "$work/changelog.Debian" |
    gzip -9n >"$cdoc/changelog.Debian.gz"
chmod 0644 "$cdoc/changelog.Debian.gz"

# -- control -------------------------------------------------------------------
installed_size() { # dpkg-gencontrol's rule: KiB per file rounded up, 1 per other entry
    find "$1" -mindepth 1 -path "$1/DEBIAN" -prune -o \
        \( -type f -printf '%s\n' -o -printf '1024\n' \) |
        awk '{ s += int(($1 + 1023) / 1024) } END { print s }'
}

# (dpkg-shlibdeps finds a package's root by its DEBIAN directory.)
dir "$root/DEBIAN" "$croot/DEBIAN"
if command -v dpkg-shlibdeps >/dev/null; then
    depends=$(cd "$work" && dpkg-shlibdeps -O debian/rnet-tools/usr/bin/rnc \
        debian/rnet-tools/usr/bin/rnetstat debian/rnet-tools/usr/bin/rfw |
        sed -n 's/^shlibs:Depends=//p')
else
    # Computed as honestly as we can without it: the newest glibc symbol
    # version the binaries use, plus libgcc_s when they link it.
    command -v objdump >/dev/null || die "neither dpkg-shlibdeps nor objdump"
    glibc=$(objdump -T "$root"/usr/bin/* | grep -o 'GLIBC_[0-9.]*' |
        sed 's/GLIBC_//' | sort -uV | tail -1)
    depends="libc6 (>= $glibc)"
    if objdump -p "$root"/usr/bin/* | grep -q 'NEEDED *libgcc_s'; then
        depends="$depends, libgcc-s1"
    fi
fi
[[ -n $depends ]] || die "could not compute Depends"

cat >"$root/DEBIAN/control" <<EOF
Package: rnet-tools
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(installed_size "$root")
Depends: $depends
Recommends: iptables
Section: net
Priority: optional
Description: netstat, nc and iptables stand-ins that explain TCP states
 Command-line tools for learning and scripting TCP:
  * rnetstat prints what net-tools' netstat prints, byte for byte, and on
    request says what each TCP socket's state means from the kernel's own
    numbers; it also filters like ss, prints JSON Lines and follows state
    changes as they happen (--watch);
  * rnc is an OpenBSD-compatible netcat (the flags, messages and exit
    statuses of netcat-openbsd) that can narrate its own connection;
  * rfw runs iptables with your arguments, tags the rules it adds, removes
    exactly those, and says what each rule does to a TCP connection.
 .
 The tools install under their own names; the rnet-tools-compat package
 makes them answer to nc and netstat.
EOF
cat >"$croot/DEBIAN/control" <<EOF
Package: rnet-tools-compat
Source: rnet-tools
Version: $version
Architecture: all
Maintainer: $maintainer
Installed-Size: $(installed_size "$croot")
Depends: rnet-tools (= $version)
Section: net
Priority: optional
Description: nc and netstat names for rnet-tools (opt-in)
 Installing this package makes rnc answer to nc and netcat through
 update-alternatives (priority 60, above netcat-openbsd's 50: it wins in
 automatic mode, and an administrator's manual choice is kept), and makes
 rnetstat answer to netstat by diverting net-tools' netstat and its manual
 page. Removing the package restores the originals.
EOF
for s in preinst postinst prerm postrm; do
    install -m 0755 "packaging/compat/$s" "$croot/DEBIAN/$s"
done
chmod 0644 "$root/DEBIAN/control" "$croot/DEBIAN/control"
( cd "$root" && find usr -type f | sort | xargs md5sum ) >"$root/DEBIAN/md5sums"
( cd "$croot" && find usr bin -type f | sort | xargs md5sum ) >"$croot/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums" "$croot/DEBIAN/md5sums"

# -- assemble ------------------------------------------------------------------
find "$root" "$croot" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb=$out/rnet-tools_${version}_${arch}.deb
cdeb=$out/rnet-tools-compat_${version}_all.deb
rm -f "$out"/rnet-tools_*.deb "$out"/rnet-tools-compat_*.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
dpkg-deb --root-owner-group -Zxz --build "$croot" "$cdeb" >/dev/null

for p in "$deb" "$cdeb"; do
    echo
    echo "== $(basename "$p"): $(stat -c %s "$p") bytes," \
        "Installed-Size $(dpkg-deb -f "$p" Installed-Size) KiB," \
        "sha256 $(sha256sum "$p" | cut -d' ' -f1)"
    dpkg-deb -c "$p" | awk '{ printf "%s %9s %s", $1, $3, $6
        for (i = 7; i <= NF; i++) printf " %s", $i
        print "" }'
done
