#!/usr/bin/env bash
# rnetstat-bench.sh: rnetstat against net-tools netstat and `cat /proc/net/tcp{,6}`
# with tens of thousands of ESTABLISHED loopback sockets (targets: README.md, "Performance").
#
# Usage (as root):
#   bench/rnetstat-bench.sh [-n RUNS] [--pairs N] [--v6-pairs N] [--per-proc N] [--build]
#                           [--port P] [--scale N,N,...]
#   RNETSTAT=/path/to/rnetstat bench/rnetstat-bench.sh     # default: <repo>/target/release/rnetstat
#   RNETSTAT=/usr/bin/netstat bench/rnetstat-bench.sh      # validate the harness without rnetstat
#
# Options (environment variable in brackets):
#   -n, --runs N      timed runs per command, median reported [RUNS, default 7]
#   --pairs N         IPv4 ESTABLISHED pairs on 127.0.0.1 [PAIRS, default 30000 = ~60,000 lines]
#   --v6-pairs N      extra IPv6 pairs on ::1 [V6_PAIRS, default 0]
#   --per-proc N      max pairs per holder process, 2 fds each [PER_PROC, default 5000]
#   --build           run `cargo build --release -p rnetstat` first
#   --timeout S       limit for each single timed command [RUN_TIMEOUT, default 60]
#   --port P          a port with a handful of sockets (a listener and --filter-pairs pairs on
#                     127.0.0.1:P) for the filter rows [PORT, default 4444; 0 = no filter rows]
#   --filter-pairs N  pairs on that port [FILTER_PAIRS, default 3]
#   --scale LIST      the scale curve: one whole run per IPv4 pair count in LIST (each in a
#                     fresh namespace), then one table of median ms and peak RSS per
#                     command and size [SCALE, e.g. 5000,30000 = 10,000 and 60,000 sockets]
#   NETSTAT=PATH      net-tools netstat to compare with (default: found on PATH)
#   SS=PATH           iproute2 ss for the --port row (default: found on PATH)
#
# What it does: creates a private network namespace rnbench-$$, brings up lo, widens
# ip_local_port_range there, opens the pairs with bench/hold_pairs.py (several processes,
# 127.0.0.1 / ::1 only), checks `rnetstat -nat | wc -l` against `netstat -nat | wc -l`,
# then times inside the namespace, under LC_ALL=C with output to /dev/null:
#   true (harness floor), netstat -nat, rnetstat -nat (sock_diag, the default source) and
#   with RNETSTAT_SOURCE=proc, cat /proc/net/tcp /proc/net/tcp6, netstat -natp, rnetstat
#   -natp (both sources), and with --port P: rnetstat -nat --port P (both sources),
#   netstat -nat | grep ':P ', ss -nat '( sport = :P or dport = :P )'
# The sanity check also requires the same bytes from both sources of rnetstat.
# and prints median wall ms, peak RSS and the target ratios (bench/measure.py).
# The namespace, its processes and the temp files are removed on exit, error or Ctrl-C.
# Needs: root, iproute2 (ip), python3; GNU time (/usr/bin/time) for RSS.  Takes 1-2 minutes.
# Exit status: 0 when measured (PASS or MISS alike), non-zero on setup or command failure.

set -euo pipefail

RUNS=${RUNS:-7}
PAIRS=${PAIRS:-30000}
V6_PAIRS=${V6_PAIRS:-0}
PER_PROC=${PER_PROC:-5000}
PORT=${PORT:-4444}
FILTER_PAIRS=${FILTER_PAIRS:-3}
SCALE=${SCALE:-}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
SETUP_TIMEOUT=${SETUP_TIMEOUT:-240}   # seconds allowed to open all pairs
BUILD=0

die() { echo "rnetstat-bench: error: $*" >&2; exit 1; }
warn() { echo "rnetstat-bench: WARNING: $*" >&2; }
info() { echo "rnetstat-bench: $*" >&2; }
usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; }
isnum() { [[ $1 =~ ^[0-9]+$ ]]; }

while [[ $# -gt 0 ]]; do
    case $1 in
        -n|--runs) RUNS=${2:?}; shift 2 ;;
        --pairs) PAIRS=${2:?}; shift 2 ;;
        --v6-pairs) V6_PAIRS=${2:?}; shift 2 ;;
        --per-proc) PER_PROC=${2:?}; shift 2 ;;
        --timeout) RUN_TIMEOUT=${2:?}; shift 2 ;;
        --build) BUILD=1; shift ;;
        --port) PORT=${2:?}; shift 2 ;;
        --filter-pairs) FILTER_PAIRS=${2:?}; shift 2 ;;
        --scale) SCALE=${2:?}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for v in RUNS PAIRS V6_PAIRS PER_PROC RUN_TIMEOUT SETUP_TIMEOUT PORT FILTER_PAIRS; do
    isnum "${!v}" || die "$v must be a non-negative integer (got '${!v}')"
done
(( RUNS >= 1 && PER_PROC >= 1 )) || die "RUNS and PER_PROC must be >= 1"

[[ $EUID -eq 0 ]] || die "must run as root (it creates a network namespace and raises RLIMIT_NOFILE); try: sudo $0"
command -v ip >/dev/null || die "ip (iproute2) not found"
command -v python3 >/dev/null || die "python3 not found"
PYTHON=$(python3 -c 'import sys; print(sys.executable)')   # skip wrappers such as pyenv shims

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)

if (( BUILD )); then
    info "building rnetstat (cargo build --release -p rnetstat)"
    (cd "$REPO_ROOT" && cargo build --release -p rnetstat) || die "cargo build failed"
fi
RNETSTAT=${RNETSTAT:-$REPO_ROOT/target/release/rnetstat}
if [[ -n $SCALE ]]; then
    [[ $SCALE =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--scale wants pair counts like 5000,30000 (got '$SCALE')"
    SUMMARY=$(mktemp /tmp/rnbench-scale.XXXXXX)
    trap 'rm -f "$SUMMARY"' EXIT
    for n in ${SCALE//,/ }; do
        info "scale: $n IPv4 pairs ($((2 * n)) sockets)"
        RNETSTAT=$RNETSTAT SCALE= SUMMARY_FILE=$SUMMARY "$0" -n "$RUNS" --pairs "$n" \
            --v6-pairs "$V6_PAIRS" --per-proc "$PER_PROC" --timeout "$RUN_TIMEOUT" \
            --port "$PORT" --filter-pairs "$FILTER_PAIRS" || die "the run at $n pairs failed"
        echo
    done
    echo "scale curve: median ms (peak RSS MB) per command; columns = lines in /proc/net/tcp{,6}"
    "$PYTHON" - "$SUMMARY" <<'PY'
import sys
rows, sizes = {}, []
for line in open(sys.argv[1]):
    n, label, ms, kib = line.rstrip("\n").split("\t")
    if n not in sizes:
        sizes.append(n)
    rows.setdefault(label, {})[n] = (float(ms), int(kib))
w = max(len(l) for l in rows) + 2
print(f"{'command':<{w}}" + "".join(f"{int(n):>20,}" for n in sizes))
for label, by in rows.items():
    cells = "".join(f"{by[n][0]:>11,.1f} ({by[n][1] / 1024:5.2f})" if n in by else f"{'-':>20}"
                    for n in sizes)
    print(f"{label:<{w}}{cells}")
PY
    exit 0
fi
[[ $RNETSTAT == */* ]] || RNETSTAT=$(command -v "$RNETSTAT" || true)
[[ -n $RNETSTAT && -x $RNETSTAT ]] || die "rnetstat binary not found or not executable: '${RNETSTAT}'
  build it (cargo build --release -p rnetstat, or pass --build), set RNETSTAT=/path/to/rnetstat,
  or validate the harness alone with RNETSTAT=/usr/bin/netstat"
RNETSTAT=$(cd "$(dirname "$RNETSTAT")" && pwd)/$(basename "$RNETSTAT")

NETSTAT=${NETSTAT-$(command -v netstat || true)}
if [[ -z $NETSTAT || ! -x $NETSTAT ]]; then
    warn "net-tools netstat not found: netstat rows, the sanity check and netstat ratios are skipped"
    NETSTAT=""
fi
SS=${SS-$(command -v ss || true)}
[[ -n $SS && -x $SS ]] || { [[ $PORT -eq 0 ]] || warn "ss not found: the ss --port row is skipped"; SS=""; }
GNU_TIME=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M true 2>&1 >/dev/null | grep -qx '[0-9]*'; then
    GNU_TIME=/usr/bin/time
else
    warn "GNU time (/usr/bin/time) not found: RSS falls back to wait4() and is inflated by the harness"
fi

NS=rnbench-$$
TMP=""
HOLDER=""

for old in $(ip netns list 2>/dev/null | awk '$1 ~ /^rnbench-[0-9]+$/ {print $1}'); do
    kill -0 "${old#rnbench-}" 2>/dev/null ||
        warn "stale namespace $old from an earlier run (remove with: ip netns del $old)"
done

ns_pids() { ip netns pids "$NS" 2>/dev/null || true; }

cleanup() {
    local rc=$? pids i
    trap - EXIT INT TERM HUP
    set +e
    [[ -n $HOLDER ]] && kill -TERM "$HOLDER" 2>/dev/null
    if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$NS"; then
        pids=$(ns_pids)
        [[ -n $pids ]] && kill -TERM $pids 2>/dev/null
        for ((i = 0; i < 200; i++)); do          # up to 20 s for them to close 60k sockets
            [[ -z $(ns_pids) ]] && break
            sleep 0.1
        done
        pids=$(ns_pids)
        if [[ -n $pids ]]; then
            warn "killing leftover processes in $NS: $pids"
            kill -KILL $pids 2>/dev/null
            for ((i = 0; i < 50; i++)); do [[ -z $(ns_pids) ]] && break; sleep 0.1; done
        fi
        ip netns del "$NS" || warn "could not delete namespace $NS"
    fi
    if [[ -n $HOLDER ]]; then   # reap, bounded
        for ((i = 0; i < 50; i++)); do kill -0 "$HOLDER" 2>/dev/null || break; sleep 0.1; done
        (( i < 50 )) || kill -KILL "$HOLDER" 2>/dev/null
        wait "$HOLDER" 2>/dev/null
    fi
    [[ -n $TMP ]] && rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "rnetstat-bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

TMP=$(mktemp -d /tmp/rnbench.XXXXXX)

# --- namespace ---------------------------------------------------------------------------
ip netns add "$NS" || die "cannot create network namespace $NS"
ip -n "$NS" link set lo up
# listeners use 5555+i (below the range); clients take ephemeral ports from it
if command -v sysctl >/dev/null; then
    ip netns exec "$NS" sysctl -q -w net.ipv4.ip_local_port_range="10000 65535"
else
    ip netns exec "$NS" sh -c 'echo "10000 65535" > /proc/sys/net/ipv4/ip_local_port_range'
fi
if (( V6_PAIRS > 0 )); then
    ip netns exec "$NS" sh -c 'echo 0 > /proc/sys/net/ipv6/conf/lo/disable_ipv6' 2>/dev/null || true
fi

# --- open the pairs ----------------------------------------------------------------------
info "opening $PAIRS IPv4 + $V6_PAIRS IPv6 loopback pairs in namespace $NS ..."
t0=$SECONDS
ip netns exec "$NS" "$PYTHON" "$BENCH_DIR/hold_pairs.py" --pairs "$PAIRS" --v6-pairs "$V6_PAIRS" \
    --per-proc "$PER_PROC" --ready "$TMP/ready" --timeout "$SETUP_TIMEOUT" \
    --filter-port "$PORT" --filter-pairs "$FILTER_PAIRS" \
    </dev/null >"$TMP/holder.log" 2>&1 &
HOLDER=$!
deadline=$((SECONDS + SETUP_TIMEOUT + 10))
while [[ ! -s $TMP/ready ]]; do
    if ! kill -0 "$HOLDER" 2>/dev/null; then
        cat "$TMP/holder.log" >&2
        die "hold_pairs.py exited before the pairs were up"
    fi
    (( SECONDS < deadline )) || die "pairs not up after ${SETUP_TIMEOUT}s"
    sleep 0.2
done
read -r status got4 got6 workers <"$TMP/ready" || true
[[ $status == READY ]] || { cat "$TMP/holder.log" >&2; die "hold_pairs.py: $(cat "$TMP/ready")"; }
info "pairs up in $((SECONDS - t0)) s: $got4 IPv4 + $got6 IPv6 over $workers processes"

nsrun() {  # nsrun TIMEOUT CMD...: run in the namespace under LC_ALL=C, bounded
    local t=$1; shift
    timeout --foreground -k 5 "$t" ip netns exec "$NS" env LC_ALL=C "$@"
}

# --- sanity ------------------------------------------------------------------------------
notes=()
if ! nsrun "$RUN_TIMEOUT" "$RNETSTAT" -nat >"$TMP/r.out" 2>"$TMP/r.err"; then
    cat "$TMP/r.err" >&2
    die "'$RNETSTAT -nat' failed in the namespace"
fi
r_lines=$(wc -l <"$TMP/r.out")
nsrun "$RUN_TIMEOUT" env RNETSTAT_SOURCE=proc "$RNETSTAT" -nat >"$TMP/rp.out" 2>"$TMP/rp.err" ||
    { cat "$TMP/rp.err" >&2; die "'RNETSTAT_SOURCE=proc $RNETSTAT -nat' failed in the namespace"; }
if cmp -s "$TMP/r.out" "$TMP/rp.out"; then src_same=identical; else src_same=DIFFERENT; fi
notes+=("sources:   rnetstat -nat, sock_diag (default) and RNETSTAT_SOURCE=proc: output bytes $src_same")
rm -f "$TMP/rp.out"
if [[ -n $NETSTAT ]]; then
    nsrun "$RUN_TIMEOUT" "$NETSTAT" -nat >"$TMP/n.out" 2>"$TMP/n.err" ||
        { cat "$TMP/n.err" >&2; die "'$NETSTAT -nat' failed in the namespace"; }
    n_lines=$(wc -l <"$TMP/n.out")
    diff=$(( r_lines > n_lines ? r_lines - n_lines : n_lines - r_lines ))
    if cmp -s "$TMP/r.out" "$TMP/n.out"; then same=identical; else same=DIFFERENT; fi
    if (( diff * 100 > n_lines )); then
        warn "rnetstat -nat prints $r_lines lines, netstat -nat $n_lines (differ by more than 1%)"
        verdict="WARNING: differ by more than 1%"
    else
        verdict="ok"
    fi
    notes+=("sanity:    rnetstat -nat | wc -l = $r_lines, netstat -nat | wc -l = $n_lines: $verdict; output bytes $same")
else
    notes+=("sanity:    rnetstat -nat | wc -l = $r_lines (no netstat to compare with)")
fi
rm -f "$TMP"/r.out "$TMP"/n.out

# --- measure -----------------------------------------------------------------------------
info "timing: $RUNS runs per command (+1 warm-up) ..."
args=(--runs "$RUNS" --timeout "$RUN_TIMEOUT" --rnetstat "$RNETSTAT" --netstat "$NETSTAT"
      --gnu-time "$GNU_TIME" --tmpdir "$TMP" --pairs "$got4" --v6-pairs "$got6" --workers "$workers"
      --port "$PORT" --ss "$SS" --summary "${SUMMARY_FILE:-}")
for n in "${notes[@]}"; do args+=(--note "$n"); done
# bound: warm-up + RUNS rounds of up to 13 commands, each bounded by RUN_TIMEOUT
# (in the background + wait, so that a TERM/INT trap runs at once instead of after the timing)
nsrun $(( (RUNS + 1) * 13 * RUN_TIMEOUT + 30 )) "$PYTHON" "$BENCH_DIR/measure.py" "${args[@]}" &
wait $!
