#!/usr/bin/env python3
"""Open and hold N established TCP loopback pairs, spread over worker processes.

Helper for bench/rnetstat-bench.sh (Python 3 standard library only).  Meant to
run inside a private network namespace (`ip netns exec NS python3 hold_pairs.py
...`); it only ever talks to 127.0.0.1 / ::1.

With --filter-port P, this process also holds a listener on 127.0.0.1:P and
--filter-pairs pairs to it: a port with a handful of sockets among all the
others, for the `--port P` measurements.

Each worker process owns one listening socket (127.0.0.1:BASE+i, or [::1]:BASE+i
for IPv6 workers), connects its share of clients to it and accept()s every one,
so it holds both ends of each pair: 2 descriptors and 2 ESTABLISHED lines in
/proc/net/tcp{,6} per pair, all attributed to that worker's PID (what `-p`
resolves).

Protocol: once every worker has built its pairs, the parent writes
"READY <pairs4> <pairs6> <workers>" to --ready (atomically, via rename) and then
holds until SIGTERM/SIGINT or until a worker dies.  Workers block on a pipe from
the parent and exit as soon as it closes, so killing the parent (even with
SIGKILL) releases everything.  Any failure is written to stderr and to the
--ready file as "FAIL <reason>", and the exit status is non-zero.
"""

import argparse
import os
import resource
import select
import signal
import socket
import sys
import time

BATCH = 512  # connects before draining the accept queue; stays below somaxconn


def log(msg):
    print(f"hold_pairs[{os.getpid()}]: {msg}", file=sys.stderr, flush=True)


def write_ready(path, text):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.rename(tmp, path)


def raise_nofile(wanted):
    """Raise RLIMIT_NOFILE as far as allowed (up to `wanted`); return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        with open("/proc/sys/fs/nr_open") as f:
            nr_open = int(f.read())
    except OSError:
        nr_open = hard
    target = min(wanted, nr_open)
    if target > hard:
        try:  # root (CAP_SYS_RESOURCE) may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, target))
            return target
        except (ValueError, OSError):
            pass
    target = min(target, hard) if hard != resource.RLIM_INFINITY else target
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def worker(idx, family, lsock, npairs, hold_r, status_w):
    """Build npairs connections to lsock, hold them until hold_r reaches EOF."""
    host, port = lsock.getsockname()[:2]
    fds = []
    try:
        made = 0
        while made < npairs:
            k = min(BATCH, npairs - made)
            for _ in range(k):
                c = socket.socket(family, socket.SOCK_STREAM)
                c.connect((host, port))
                fds.append(c.detach())
            for _ in range(k):
                s, _ = lsock.accept()
                fds.append(s.detach())
            made += k
        os.write(status_w, f"ok {idx} {made}\n".encode())
    except Exception as e:  # report, then die: the parent treats it as fatal
        os.write(status_w, f"err {idx} {type(e).__name__}: {e}\n".encode()[:500])
        os._exit(1)
    os.close(status_w)
    # Hold.  read() returns b"" (EOF) once the parent is gone or lets go.
    while True:
        try:
            if not os.read(hold_r, 1):
                break
        except InterruptedError:
            continue
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, required=True, help="IPv4 pairs (127.0.0.1)")
    ap.add_argument("--v6-pairs", type=int, default=0, help="IPv6 pairs (::1)")
    ap.add_argument("--per-proc", type=int, default=5000,
                    help="max pairs per worker process (2 fds each)")
    ap.add_argument("--base-port", type=int, default=5555)
    ap.add_argument("--ready", required=True, help="file written when all pairs are up")
    ap.add_argument("--timeout", type=float, default=180.0,
                    help="seconds allowed to build all pairs")
    ap.add_argument("--filter-port", type=int, default=0,
                    help="also listen on 127.0.0.1:PORT with --filter-pairs pairs, held"
                         " by this process (the handful of sockets a --port filter finds)")
    ap.add_argument("--filter-pairs", type=int, default=3)
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(0))

    limit = raise_nofile(2 * a.per_proc + 256)
    per_proc = max(1, min(a.per_proc, (limit - 64) // 2))
    if per_proc < a.per_proc:
        log(f"RLIMIT_NOFILE is {limit}: {per_proc} pairs per process")

    plan = []  # (family, host, pairs)
    for fam, host, total in ((socket.AF_INET, "127.0.0.1", a.pairs),
                             (socket.AF_INET6, "::1", a.v6_pairs)):
        left = total
        nproc = -(-total // per_proc) if total > 0 else 0
        for i in range(nproc):  # spread evenly
            n = -(-left // (nproc - i))
            plan.append((fam, host, n))
            left -= n

    # Bind every listener before any connect(), so that no ephemeral port taken
    # by a client can collide with a listening port.
    listeners = []
    for i, (fam, host, _) in enumerate(plan):
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, a.base_port + i))
        ls.listen(4096)
        listeners.append(ls)

    # The filter port's few sockets: a listener and its pairs, held here.
    filter_socks = []
    if a.filter_port:
        fl = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        fl.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        fl.bind(("127.0.0.1", a.filter_port))
        fl.listen(64)
        filter_socks.append(fl)
        for _ in range(a.filter_pairs):
            c = socket.create_connection(("127.0.0.1", a.filter_port), timeout=5)
            s, _ = fl.accept()
            filter_socks += [c, s]

    hold_r, hold_w = os.pipe()
    status_r, status_w = os.pipe()
    pids = []
    try:
        for i, (fam, _, n) in enumerate(plan):
            pid = os.fork()
            if pid == 0:
                try:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    signal.signal(signal.SIGINT, signal.SIG_DFL)
                    signal.signal(signal.SIGHUP, signal.SIG_DFL)
                    os.close(hold_w)
                    os.close(status_r)
                    for j, ls in enumerate(listeners):
                        if j != i:
                            ls.close()
                    worker(i, fam, listeners[i], n, hold_r, status_w)
                finally:
                    os._exit(1)
            pids.append(pid)
        os.close(status_w)
        os.close(hold_r)
        for ls in listeners:
            ls.close()

        # Collect one status line per worker, bounded by --timeout.
        deadline = time.monotonic() + a.timeout
        buf, oks, built = b"", 0, [0, 0]
        while oks < len(plan):
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"timeout: only {oks}/{len(plan)} workers ready")
            r, _, _ = select.select([status_r], [], [], left)
            if not r:
                continue
            chunk = os.read(status_r, 4096)
            if not chunk:
                raise RuntimeError(f"a worker died ({oks}/{len(plan)} ready)")
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                kind, idx, rest = line.decode().split(" ", 2)
                if kind != "ok":
                    raise RuntimeError(f"worker {idx}: {rest}")
                oks += 1
                built[0 if plan[int(idx)][0] == socket.AF_INET else 1] += int(rest)
        write_ready(a.ready, f"READY {built[0]} {built[1]} {len(plan)}")

        # Hold until told to stop; a dying worker is a failure.
        pid, status = os.wait()
        pids.remove(pid)
        raise RuntimeError(f"worker pid {pid} exited early (status {status})")
    except RuntimeError as e:
        log(str(e))
        try:
            write_ready(a.ready, f"FAIL {e}")
        except OSError:
            pass
        sys.exit(1)
    finally:
        os.close(hold_w)  # workers see EOF and exit
        deadline = time.monotonic() + 20
        while pids and time.monotonic() < deadline:
            for pid in list(pids):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    pids.remove(pid)
            if pids:
                time.sleep(0.02)
        for pid in pids:  # overdue: force
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


if __name__ == "__main__":
    main()
