#!/usr/bin/env python3
"""Time the rnetstat benchmark commands and print the result table.

Helper for bench/rnetstat-bench.sh (Python 3 standard library only); run it
inside the benchmark's network namespace, under LC_ALL=C.

Each command runs once as a warm-up, then --runs times; the commands are
interleaved round-robin (with a rotating start) so that drift hits them all
alike.  stdout and stdin are /dev/null.

Wall time: time.perf_counter() around spawn + wait, in this process.
Peak RSS: GNU time's %M (`/usr/bin/time -f %M -o FILE -- CMD`).  GNU time
forks the command from its own small image (~1 MB), which is the floor of the
measurement.  Without GNU time, ru_maxrss from wait4() is used instead, but
that includes this Python process's footprint (Linux folds the pre-exec RSS
of the forked child into maxrss), so it is reported with a warning and the RSS
target is not judged.  The "/bin/true" row shows the harness floor of both.
"""

import argparse
import os
import platform
import signal
import statistics
import sys
import tempfile
import time

MIB = 1024.0  # ru_maxrss / %M are in KiB; "MB" in the table means MiB

# Targets (README.md, "Performance"; how net-tools itself reads the tables: docs/compat.md).
TARGET_NAT_VS_CAT = 1.10
TARGET_NATP_VS_NETSTAT = 0.30
TARGET_RSS_MB = 3.0
# Issue 13 (sock_diag listings and kernel filters): the default source against cat and
# netstat, `--port P` against `netstat -nat | grep ':P '` (at least 15x faster) and ss.
TARGET13_NAT_VS_CAT = 0.60
TARGET13_NATP_VS_NETSTAT = 0.20
TARGET13_PORT_VS_GREP = 1 / 15
TARGET13_PORT_VS_SS = 1.00


class Timeout(Exception):
    pass


def proc_lines(path):
    try:
        with open(path, "rb") as f:
            return max(0, sum(1 for _ in f) - 1)  # minus the header line
    except OSError:
        return -1


def run_once(argv, gnu_time, timeout, errpath, rsspath, env=None):
    """Return (wall_seconds, max_rss_kib, exit_status); env: extra variables."""
    if gnu_time:
        full = [gnu_time, "-f", "%M", "-o", rsspath, "--"] + argv
    else:
        full = argv
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, errpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    t0 = time.perf_counter()
    environ = dict(os.environ, **(env or {}))
    pid = os.posix_spawnp(full[0], full, environ, file_actions=actions, setpgroup=0)
    timed_out = []

    def on_alarm(*_):
        timed_out.append(1)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        _, status, ru = os.wait4(pid, 0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    wall = time.perf_counter() - t0
    if timed_out:
        raise Timeout(f"{' '.join(argv)}: killed after {timeout:g} s")
    code = os.waitstatus_to_exitcode(status)
    if gnu_time:
        try:
            with open(rsspath) as f:
                # last line: GNU time prefixes "Command exited with non-zero status"
                rss = int(f.read().split()[-1])
        except (OSError, ValueError, IndexError):
            rss = -1
    else:
        rss = ru.ru_maxrss
    return wall, rss, code


def fmt_ms(x):
    return "-" if x is None else (f"{x:,.1f}" if x < 1000 else f"{x:,.0f}")


def fmt_mb(kib):
    return "-" if kib is None or kib < 0 else f"{kib / MIB:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=60.0, help="per command run")
    ap.add_argument("--netstat", default="", help="net-tools netstat path ('' = absent)")
    ap.add_argument("--rnetstat", required=True)
    ap.add_argument("--gnu-time", default="", help="GNU time path ('' = use wait4)")
    ap.add_argument("--pairs", default="?")
    ap.add_argument("--v6-pairs", default="0")
    ap.add_argument("--workers", default="?")
    ap.add_argument("--note", action="append", default=[], help="extra header line")
    ap.add_argument("--port", type=int, default=0,
                    help="a port with a handful of sockets: time the --port filters")
    ap.add_argument("--ss", default="", help="iproute2 ss path ('' = absent)")
    ap.add_argument("--summary", default="",
                    help="append 'lines<TAB>label<TAB>median ms<TAB>peak KiB' per command here")
    ap.add_argument("--tmpdir", default=None,
                    help="scratch directory (the caller removes it; default: own, removed here)")
    a = ap.parse_args()
    # Ctrl-C: die by the signal so that the calling shell runs its INT trap.
    signal.signal(signal.SIGINT, signal.SIG_DFL)

    # (label, argv, extra environment); rnetstat's default source is sock_diag where it
    # gives /proc's bytes, RNETSTAT_SOURCE=proc the /proc text path (man/rnetstat.8).
    proc_src = {"RNETSTAT_SOURCE": "proc"}
    cmds = [("/bin/true (harness floor)", ["true"], None)]
    if a.netstat:
        cmds.append(("netstat -nat", [a.netstat, "-nat"], None))
    cmds.append(("rnetstat -nat", [a.rnetstat, "-nat"], None))
    cmds.append(("rnetstat -nat (source proc)", [a.rnetstat, "-nat"], proc_src))
    cmds.append(("cat /proc/net/tcp /proc/net/tcp6",
                 ["cat", "/proc/net/tcp", "/proc/net/tcp6"], None))
    if a.netstat:
        cmds.append(("netstat -natp", [a.netstat, "-natp"], None))
    cmds.append(("rnetstat -natp", [a.rnetstat, "-natp"], None))
    cmds.append(("rnetstat -natp (source proc)", [a.rnetstat, "-natp"], proc_src))
    P = a.port
    if P:
        cmds.append((f"rnetstat -nat --port {P}", [a.rnetstat, "-nat", "--port", str(P)], None))
        cmds.append((f"rnetstat -nat --port {P} (source proc)",
                     [a.rnetstat, "-nat", "--port", str(P)], proc_src))
        if a.netstat:
            # grep exits 1 when nothing matches; the pipeline's status is the shell's.
            cmds.append((f"netstat -nat | grep ':{P} '",
                         ["sh", "-c", f"'{a.netstat}' -nat | grep ':{P} '; :"], None))
        if a.ss:
            cmds.append((f"ss -nat '( sport = :{P} or dport = :{P} )'",
                         [a.ss, "-nat", f"( sport = :{P} or dport = :{P} )"], None))

    tcp_before = proc_lines("/proc/net/tcp")
    tcp6_before = proc_lines("/proc/net/tcp6")

    tmp = tempfile.mkdtemp(prefix="rnbench-measure.", dir=a.tmpdir)
    errpath = os.path.join(tmp, "stderr")
    rsspath = os.path.join(tmp, "rss")
    walls = {label: [] for label, _, _ in cmds}
    rsss = {label: [] for label, _, _ in cmds}
    failed = {}
    t_start = time.monotonic()
    try:
        for rnd in range(a.runs + 1):  # round 0 = warm-up, not counted
            shift = rnd % len(cmds)
            for label, argv, env in cmds[shift:] + cmds[:shift]:
                if label in failed:
                    continue
                wall, rss, code = run_once(argv, a.gnu_time, a.timeout, errpath, rsspath, env)
                if code != 0:
                    with open(errpath, errors="replace") as f:
                        err = f.read().strip().splitlines()
                    failed[label] = f"exit status {code}" + (f": {err[-1]}" if err else "")
                    continue
                if rnd > 0:
                    walls[label].append(wall * 1000.0)
                    rsss[label].append(rss)
            print(f"  round {rnd}/{a.runs}{' (warm-up)' if rnd == 0 else ''} done,"
                  f" {time.monotonic() - t_start:.0f} s", file=sys.stderr, flush=True)
    finally:
        for p in (errpath, rsspath):
            try:
                os.unlink(p)
            except OSError:
                pass
        os.rmdir(tmp)

    tcp_after = proc_lines("/proc/net/tcp")
    med = {l: (statistics.median(v) if v else None) for l, v in walls.items()}
    peak = {l: (max(v) if v else None) for l, v in rsss.items()}

    out = []
    p = out.append
    p("rnetstat benchmark (bench/rnetstat-bench.sh)")
    p(f"date:      {time.strftime('%Y-%m-%d %H:%M:%S %z')}")
    p(f"kernel:    {platform.system()} {platform.release()} {platform.machine()},"
      f" {os.cpu_count()} CPUs")
    p(f"rnetstat:  {a.rnetstat}")
    p(f"netstat:   {a.netstat or 'NOT INSTALLED (netstat rows and ratios skipped)'}")
    p(f"sockets:   {a.pairs} IPv4 + {a.v6_pairs} IPv6 ESTABLISHED loopback pairs,"
      f" held by {a.workers} process(es)")
    p(f"lines in /proc/net/tcp: {tcp_before:,} (tcp6: {tcp6_before:,})"
      f" at start, {tcp_after:,} at end (header excluded)")
    p(f"runs:      median of {a.runs} (+1 warm-up), interleaved; LC_ALL=C, output to /dev/null")
    if a.gnu_time:
        p(f"peak RSS:  max over runs of GNU time %M ({a.gnu_time}); MB = MiB")
    else:
        p("peak RSS:  max over runs of wait4() ru_maxrss; WARNING: GNU time not found, this"
          " includes the Python harness footprint (see /bin/true row); RSS target not judged")
    for n in a.note:
        p(n)
    p("")
    w = max(len(l) for l, _, _ in cmds) + 2
    p(f"{'command':<{w}}{'median ms':>11}{'min ms':>10}{'max ms':>10}{'peak RSS MB':>13}")
    p("-" * (w + 44))
    for label, _, _ in cmds:
        if label in failed:
            p(f"{label:<{w}}  FAILED: {failed[label]}")
            continue
        v = walls[label]
        p(f"{label:<{w}}{fmt_ms(med[label]):>11}{fmt_ms(min(v)):>10}{fmt_ms(max(v)):>10}"
          f"{fmt_mb(peak[label]):>13}")
    p("")

    def ratio(n, d):
        if med.get(n) is None or med.get(d) is None or med[d] == 0:
            return None
        return med[n] / med[d]

    rows = []  # (label, value string, target string, verdict)

    def judge(value, limit):
        if value is None:
            return "n/a"
        return "PASS" if value <= limit else "MISS"

    r = ratio("rnetstat -nat", "cat /proc/net/tcp /proc/net/tcp6")
    rows.append(("rnetstat -nat / cat", None if r is None else f"{r:.3f}x",
                 f"<= {TARGET_NAT_VS_CAT:.2f}x", judge(r, TARGET_NAT_VS_CAT)))
    if a.netstat:
        r = ratio("rnetstat -nat", "netstat -nat")
        rows.append(("rnetstat -nat / netstat -nat", None if r is None else f"{r:.3f}x",
                     "(info)", ""))
        r = ratio("rnetstat -natp", "netstat -natp")
        rows.append(("rnetstat -natp / netstat -natp", None if r is None else f"{r:.3f}x",
                     f"<= {TARGET_NATP_VS_NETSTAT:.2f}x", judge(r, TARGET_NATP_VS_NETSTAT)))
    r = ratio("rnetstat -nat", "cat /proc/net/tcp /proc/net/tcp6")
    rows.append(("issue 13: rnetstat -nat / cat", None if r is None else f"{r:.3f}x",
                 f"<= {TARGET13_NAT_VS_CAT:.2f}x", judge(r, TARGET13_NAT_VS_CAT)))
    r = ratio("rnetstat -nat", "rnetstat -nat (source proc)")
    rows.append(("rnetstat -nat: sock_diag / proc", None if r is None else f"{r:.3f}x",
                 "(info)", ""))
    if a.netstat:
        r = ratio("rnetstat -natp", "netstat -natp")
        rows.append(("issue 13: rnetstat -natp / netstat -natp",
                     None if r is None else f"{r:.3f}x",
                     f"<= {TARGET13_NATP_VS_NETSTAT:.2f}x", judge(r, TARGET13_NATP_VS_NETSTAT)))
    if P:
        ours = f"rnetstat -nat --port {P}"
        if a.netstat:
            r = ratio(ours, f"netstat -nat | grep ':{P} '")
            rows.append((f"issue 13: --port / netstat|grep", None if r is None else
                         f"{r:.3f}x ({1 / r:.1f}x faster)" if r else None,
                         f"<= {TARGET13_PORT_VS_GREP:.3f}x", judge(r, TARGET13_PORT_VS_GREP)))
        if a.ss:
            r = ratio(ours, f"ss -nat '( sport = :{P} or dport = :{P} )'")
            rows.append(("issue 13: --port / ss filter", None if r is None else f"{r:.3f}x",
                         f"<= {TARGET13_PORT_VS_SS:.2f}x", judge(r, TARGET13_PORT_VS_SS)))
        r = ratio(ours, f"rnetstat -nat --port {P} (source proc)")
        rows.append(("--port: sock_diag / proc", None if r is None else f"{r:.3f}x",
                     "(info)", ""))
    labels = ["rnetstat -nat", "rnetstat -natp"] + ([f"rnetstat -nat --port {P}"] if P else [])
    for label in labels:
        kib = peak.get(label)
        mb = None if kib is None or kib < 0 else kib / MIB
        verdict = judge(mb, TARGET_RSS_MB) if a.gnu_time else "n/a"
        rows.append((f"peak RSS {label}", None if mb is None else f"{mb:.2f} MB",
                     f"<= {TARGET_RSS_MB:.0f} MB", verdict))
    w2 = max(len(x[0]) for x in rows) + 2
    w3 = max([10] + [len(x[1] or "-") + 1 for x in rows])
    p(f"{'target':<{w2}}{'measured':>{w3}}{'target':>11}  result")
    p("-" * (w2 + w3 + 19))
    for label, val, tgt, verdict in rows:
        p(f"{label:<{w2}}{val or '-':>{w3}}{tgt:>11}  {verdict or ''}".rstrip())
    if failed:
        p("")
        p(f"WARNING: {len(failed)} command(s) failed; their rows and ratios are missing")
    print("\n".join(out), flush=True)
    if a.summary:
        with open(a.summary, "a") as f:
            for label, _, _ in cmds:
                if label in failed or med[label] is None:
                    continue
                f.write(f"{tcp_before + max(tcp6_before, 0)}\t{label}\t{med[label]:.1f}"
                        f"\t{peak[label]}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
