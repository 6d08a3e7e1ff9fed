#!/usr/bin/env bash
# rnc against the machine's ceiling (issue 13): SIZE (default 2048M) of
# zeros from `head -c SIZE /dev/zero` through a pipe into `rnc -N` in one
# network namespace, over a veth to `rnc -l` writing to /dev/null in
# another, against `head -c SIZE /dev/zero | cat > /dev/null` (the pipe
# that feeds rnc, the ceiling) in the same run. Runs rnc as it comes
# (splice only from the socket into a pipe), with splice from the stdin
# pipe too (RNC_SPLICE=all), through its buffers (RNC_SPLICE=0), and
# nc.openbsd when installed;
# prints the median MB/s of RUNS runs (default 3), the ratio to the
# ceiling, and the peak RSS of both ends (GNU time). Then sends PAYLOAD
# (default 256M) of random bytes both ways (splice and buffers) into a
# file and compares sha256.
#
#   sudo bench/rnc-ceiling.sh              # target/release/rnc
#   sudo RNC=/usr/bin/rnc SIZE=1G RUNS=5 bench/rnc-ceiling.sh
#
# Needs root (namespaces), iproute2, GNU time. Traffic only between
# 198.18.0.1 and 198.18.0.2 inside the two namespaces it makes and
# removes (also on Ctrl-C or failure).
set -euo pipefail
cd "$(dirname "$0")/.."
RNC=$(realpath "${RNC:-target/release/rnc}")
SIZE=${SIZE:-2048M}
RUNS=${RUNS:-3}
RANDOM_SIZE=${PAYLOAD:-256M}
PORT=${PORT:-47800}
TIME=/usr/bin/time
[[ $(id -u) == 0 ]] || { echo "rnc-ceiling: needs root (network namespaces)" >&2; exit 1; }
[[ -x $TIME ]] || { echo "rnc-ceiling: GNU time (/usr/bin/time) is needed: apt-get install time" >&2; exit 1; }
[[ -x $RNC ]] || { echo "rnc-ceiling: $RNC: build it with cargo build --release -p rnc" >&2; exit 1; }
NC=$(command -v nc.openbsd || true)
TAG=rncc$$
A=$TAG-a B=$TAG-b
TMP=$(mktemp -d /tmp/rncceil.XXXXXX)
cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
ip netns add "$A"
ip netns add "$B"
ip link add "$TAG-a" type veth peer name "$TAG-b"
ip link set "$TAG-a" netns "$A"
ip link set "$TAG-b" netns "$B"
ip -n "$A" addr add 198.18.0.1/24 dev "$TAG-a"
ip -n "$B" addr add 198.18.0.2/24 dev "$TAG-b"
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set "$TAG-a" up
ip -n "$B" link set "$TAG-b" up
bytes=$(numfmt --from=iec "$SIZE")

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

# ceiling: prints seconds.
ceiling() {
    local t0 t1
    t0=$(now)
    head -c "$SIZE" /dev/zero | cat >/dev/null
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}

# wait_listen: until something listens on $PORT in B (up to 2.5 s).
wait_listen() {
    for _ in $(seq 50); do
        ip netns exec "$B" ss -Hltn "sport = :$PORT" | grep -q . && return
        sleep 0.05
    done
}

# transfer BIN ENV...: the listener in B to /dev/null, the client in A
# reading the pipe; prints "seconds sendKB recvKB".
transfer() {
    local bin=$1 env=$2 t0 t1 rpid
    PORT=$((PORT + 1))
    ip netns exec "$B" env $env $TIME -f %M -o "$TMP/recv.rss" "$bin" -l "$PORT" </dev/null >/dev/null 2>"$TMP/recv.err" &
    rpid=$!
    wait_listen
    t0=$(now)
    head -c "$SIZE" /dev/zero | ip netns exec "$A" env $env $TIME -f %M -o "$TMP/send.rss" "$bin" -N 198.18.0.2 "$PORT" >/dev/null 2>"$TMP/send.err"
    wait "$rpid"
    t1=$(now)
    echo "$(echo "$t1 - $t0" | bc -l) $(tail -1 "$TMP/send.rss") $(tail -1 "$TMP/recv.rss")"
}

# tcp: the kernel's TCP ceiling between the namespaces (bench/tcp_ceiling.py:
# sendfile from tmpfs, recv with MSG_TRUNC; no pipe, no copy): prints seconds.
ZEROS=""
tcp() {
    local t0 t1 rpid
    PORT=$((PORT + 1))
    ip netns exec "$B" python3 bench/tcp_ceiling.py recv 198.18.0.2 "$PORT" >"$TMP/tcp.out" &
    rpid=$!
    wait_listen
    t0=$(now)
    ip netns exec "$A" python3 bench/tcp_ceiling.py send 198.18.0.2 "$PORT" "$ZEROS"
    wait "$rpid"
    t1=$(now)
    [[ $(cat "$TMP/tcp.out") == "$bytes" ]] || { echo "rnc-ceiling: tcp_ceiling.py moved $(cat "$TMP/tcp.out") of $bytes bytes" >&2; exit 1; }
    echo "$t1 - $t0" | bc -l
}
if command -v python3 >/dev/null && [[ -d /dev/shm ]]; then
    ZEROS=$(mktemp /dev/shm/rncceil.XXXXXX)
    trap 'cleanup; rm -f "$ZEROS"' EXIT INT TERM
    head -c "$SIZE" /dev/zero >"$ZEROS"
fi

printf '%-22s %10s %8s %10s %10s\n' what "MB/s" "ratio" "send RSS" "recv RSS"
: >"$TMP/ceil"
declare -A RUNS_OF
for _ in $(seq "$RUNS"); do
    # Interleaved, so that a noisy moment hits every contender.
    ceiling >>"$TMP/ceil"
    [[ -n $ZEROS ]] && tcp >>"$TMP/tcp"
    transfer "$RNC" "X=1" >>"$TMP/rnc"
    transfer "$RNC" "RNC_SPLICE=all" >>"$TMP/rnc-splice-all"
    transfer "$RNC" "RNC_SPLICE=0" >>"$TMP/rnc-buffers"
    [[ -n $NC ]] && transfer "$NC" "X=1" >>"$TMP/nc-openbsd"
done
csecs=$(median <"$TMP/ceil")
cmbs=$(echo "$bytes / $csecs / 1000000" | bc -l)
printf '%-22s %10.0f %8s %10s %10s\n' "head | cat (ceiling)" "$cmbs" "1.00" - -
if [[ -s $TMP/tcp ]]; then
    tmbs=$(echo "$bytes / $(median <"$TMP/tcp") / 1000000" | bc -l)
    printf '%-22s %10.0f %8.2f %10s %10s\n' "TCP (sendfile, discard)" "$tmbs" "$(echo "$tmbs / $cmbs" | bc -l)" - -
fi
for name in rnc rnc-splice-all rnc-buffers nc-openbsd; do
    [[ -s $TMP/$name ]] || continue
    secs=$(awk '{print $1}' "$TMP/$name" | median)
    srss=$(awk '{print $2}' "$TMP/$name" | sort -n | tail -1)
    rrss=$(awk '{print $3}' "$TMP/$name" | sort -n | tail -1)
    mbs=$(echo "$bytes / $secs / 1000000" | bc -l)
    printf '%-22s %10.0f %8.2f %8.2fMB %8.2fMB\n' "$name" "$mbs" "$(echo "$mbs / $cmbs" | bc -l)" \
        "$(echo "$srss/1024" | bc -l)" "$(echo "$rrss/1024" | bc -l)"
done
echo "targets: rnc >= 0.85 of the ceiling, RSS <= 3 MB"

# sha256 over random bytes, both paths, both directions of the listener.
head -c "$RANDOM_SIZE" /dev/urandom >"$TMP/payload"
want=$(sha256sum <"$TMP/payload" | cut -d' ' -f1)
# Both ends read and write pipes, so every splice path of each setting runs.
for env in X=1 RNC_SPLICE=all RNC_SPLICE=0; do
    PORT=$((PORT + 1))
    ip netns exec "$B" env $env "$RNC" -l "$PORT" </dev/null | cat >"$TMP/got" &
    rpid=$!
    sleep 0.3
    cat "$TMP/payload" | ip netns exec "$A" env $env "$RNC" -N 198.18.0.2 "$PORT" >/dev/null
    wait "$rpid"
    got=$(sha256sum <"$TMP/got" | cut -d' ' -f1)
    [[ $got == "$want" ]] && verdict=same || verdict=DIFFERENT
    echo "sha256 $RANDOM_SIZE random, client -> listener, $env: $verdict ($got)"
    PORT=$((PORT + 1))
    cat "$TMP/payload" | ip netns exec "$B" env $env "$RNC" -N -l "$PORT" >/dev/null &
    spid=$!
    sleep 0.3
    ip netns exec "$A" env $env "$RNC" 198.18.0.2 "$PORT" </dev/null | cat >"$TMP/got"
    wait "$spid"
    got=$(sha256sum <"$TMP/got" | cut -d' ' -f1)
    [[ $got == "$want" ]] && verdict=same || verdict=DIFFERENT
    echo "sha256 $RANDOM_SIZE random, listener -> client, $env: $verdict ($got)"
done
echo "size $SIZE, median of $RUNS runs, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
