#!/usr/bin/env bash
# rnc throughput benchmark: moves SIZE (default 2 GiB) of zeros through
# loopback with rnc, nc.openbsd, ncat and socat, the same tool at both ends,
# in both directions (client sends to listener, listener sends to client),
# and prints the median MB/s over RUNS runs (default 3), the peak RSS of the
# sending and receiving process (GNU time), and the ratio rnc / fastest other.
#
#   bench/rnc-bench.sh                 # uses target/release/rnc
#   RNC=/usr/bin/rnc SIZE=4G RUNS=5 bench/rnc-bench.sh
#
# Each tool gets the flags that make it end at EOF: rnc/nc -N on the sender,
# ncat's default, socat -u. Only 127.0.0.1 carries traffic. Needs GNU time
# (/usr/bin/time) and head; tools that are not installed are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
RNC=${RNC:-target/release/rnc}
SIZE=${SIZE:-2G}
RUNS=${RUNS:-3}
PORT=${PORT:-47700}
TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "rnc-bench: GNU time (/usr/bin/time) is needed: apt-get install time" >&2; exit 1; }
if [[ ! -x $RNC ]]; then
    cargo build --release -p rnc >&2
fi
TMP=$(mktemp -d /tmp/rncbench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT INT TERM
bytes=$(numfmt --from=iec "$SIZE")

# run_pair NAME DIRECTION SENDER_CMD RECEIVER_CMD: the receiver listens
# (direction "c>l") or the sender listens ("l>c"); prints "secs sendKB recvKB".
run_pair() {
    local dir=$1 send=$2 recv=$3 t0 t1
    if [[ $dir == "c>l" ]]; then
        # shellcheck disable=SC2086
        $TIME -f %M -o "$TMP/recv.rss" $recv </dev/null >/dev/null 2>"$TMP/recv.err" &
        local rpid=$!
        sleep 0.3
        t0=$(date +%s.%N)
        # shellcheck disable=SC2086
        head -c "$SIZE" /dev/zero | $TIME -f %M -o "$TMP/send.rss" $send >/dev/null 2>"$TMP/send.err"
        wait $rpid
        t1=$(date +%s.%N)
    else
        # shellcheck disable=SC2086
        head -c "$SIZE" /dev/zero | $TIME -f %M -o "$TMP/send.rss" $send >/dev/null 2>"$TMP/send.err" &
        local spid=$!
        sleep 0.3
        t0=$(date +%s.%N)
        # shellcheck disable=SC2086
        timeout 120 $TIME -f %M -o "$TMP/recv.rss" $recv </dev/null >/dev/null 2>"$TMP/recv.err"
        wait $spid
        t1=$(date +%s.%N)
    fi
    echo "$(echo "$t1 - $t0" | bc -l) $(tail -1 "$TMP/send.rss") $(tail -1 "$TMP/recv.rss")"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A MBS
printf '%-12s %-4s %10s %10s %10s\n' tool dir "MB/s" "send RSS" "recv RSS"
for tool in rnc nc ncat socat; do
    case $tool in
        rnc) bin=$RNC;;
        nc) bin=$(command -v nc.openbsd || true);;
        ncat) bin=$(command -v ncat || true);;
        socat) bin=$(command -v socat || true);;
    esac
    [[ -n $bin && -x $bin ]] || { echo "$tool: not installed, skipped"; continue; }
    for dir in "c>l" "l>c"; do
        : >"$TMP/runs"
        for _ in $(seq "$RUNS"); do
            PORT=$((PORT + 1))
            case $tool in
                rnc|nc)
                    if [[ $dir == "c>l" ]]; then s="$bin -N 127.0.0.1 $PORT"; r="$bin -l $PORT";
                    else s="$bin -N -l $PORT"; r="$bin 127.0.0.1 $PORT"; fi;;
                ncat)
                    if [[ $dir == "c>l" ]]; then s="$bin 127.0.0.1 $PORT"; r="$bin -l $PORT";
                    else s="$bin -l $PORT"; r="$bin --recv-only 127.0.0.1 $PORT"; fi;;
                socat)
                    if [[ $dir == "c>l" ]]; then s="$bin -u - TCP:127.0.0.1:$PORT"; r="$bin -u TCP-LISTEN:$PORT,reuseaddr -";
                    else s="$bin -u - TCP-LISTEN:$PORT,reuseaddr"; r="$bin -u TCP:127.0.0.1:$PORT -"; fi;;
            esac
            run_pair "$dir" "$s" "$r" >>"$TMP/runs"
        done
        secs=$(awk '{print $1}' "$TMP/runs" | median)
        srss=$(awk '{print $2}' "$TMP/runs" | sort -n | tail -1)
        rrss=$(awk '{print $3}' "$TMP/runs" | sort -n | tail -1)
        mbs=$(echo "$bytes / $secs / 1000000" | bc -l)
        MBS[$tool$dir]=$mbs
        printf '%-12s %-4s %10.0f %8.2fMB %8.2fMB\n' "$tool" "$dir" "$mbs" "$(echo "$srss/1024" | bc -l)" "$(echo "$rrss/1024" | bc -l)"
    done
done
for dir in "c>l" "l>c"; do
    best=0; who=none
    for tool in nc ncat socat; do
        v=${MBS[$tool$dir]:-0}
        if (( $(echo "$v > $best" | bc -l) )); then best=$v; who=$tool; fi
    done
    if [[ $who != none && -n ${MBS[rnc$dir]:-} ]]; then
        printf 'ratio rnc / fastest other (%s, %s): %.2f  (target >= 1.0, aim 1.3)\n' "$who" "$dir" "$(echo "${MBS[rnc$dir]} / $best" | bc -l)"
    fi
done
echo "size $SIZE, median of $RUNS runs, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
