#!/usr/bin/env python3
"""Connection-storm benchmark: each server pinned to core 0, the load generator to core 1.

For each server kind: SOCKETS sockets, CONCURRENCY connecting at a time, held HOLD seconds;
measures authenticated sockets/s and latency (from the load generator), server CPU per socket
(summed from /proc/PID/task/*/schedstat) and RSS per held socket (/proc/PID/status VmRSS,
sampled while every socket is held, minus the idle baseline). Medians of RUNS runs; ratios
against bare socketioxide with the same transport settings ("lean": `CompactHeadLayer` and a
1 KiB websocket read buffer, what the README recommends) from the same run.

    python3 bench/run.py --sockets 10000 --concurrency 100 --runs 5     # the full table
    python3 bench/run.py --sockets 1000 --runs 1 --check                # the CI smoke run

The Rust servers read BENCH_WS_READ_BUFFER and BENCH_MAX_BUFFER (socketioxide's per-socket
websocket read buffer and packet buffer) to measure those knobs.
"""
import argparse, json, os, pathlib, re, resource, statistics, subprocess, sys, threading, time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release"
NODE = ROOT / "bench" / "node" / "server.mjs"
# (key, label, server command, load generator mode)
SERVERS = [
    ("bare-defaults", "bare socketioxide 0.18.9, no auth, its defaults",
     [str(BIN / "bench-server"), "--kind", "bare"], "bare"),
    ("bare", "bare socketioxide 0.18.9, no auth, lean", [str(BIN / "bench-server"), "--kind", "bare", "--lean"], "bare"),
    ("round-trip", "bare socketioxide, no auth, lean, + message mode's extra round trip",
     [str(BIN / "bench-server"), "--kind", "round-trip", "--lean"], "message"),
    ("message", "socketioxide-jwt, message mode, lean",
     [str(BIN / "bench-server"), "--kind", "message", "--lean"], "message"),
    ("handshake", "socketioxide-jwt, handshake mode, lean",
     [str(BIN / "bench-server"), "--kind", "handshake", "--lean"], "handshake"),
    ("node-bare", "Node socket.io 4.8, no auth", ["node", str(NODE), "--kind", "bare"], "bare"),
    ("node-socketio-jwt", "Node socket.io 4.8 + socketio-jwt", ["node", str(NODE), "--kind", "socketio-jwt"], "message"),
    ("node-classic", "Node, two round trips by hand (jsonwebtoken)", ["node", str(NODE), "--kind", "classic"], "message"),
    ("node-handshake", "Node, io.use handshake auth (jsonwebtoken)", ["node", str(NODE), "--kind", "handshake"], "handshake"),
]


def cpu_ns(pid):
    total = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def rss_kib(pid):
    m = re.search(r"VmRSS:\s+(\d+) kB", pathlib.Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) if m else 0


def pinned(core, cmd):
    return (["taskset", "-c", str(core)] if os.cpu_count() and os.cpu_count() > 1 else []) + cmd


def server_url(server):
    """The `http://…` address a server prints when it listens (None if it exits first); lines
    before it (a wrapper's banner: heaptrack, valgrind) are skipped."""
    for line in server.stdout:
        m = re.search(r"(http://\S+)", line)
        if m:
            return m.group(1)
    return None


def pct(sorted_values, p):
    """The p-th percentile of already sorted values (0 when there are none)."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


class PeakRss(threading.Thread):
    """Samples the summed RSS of `pids` every 50 ms until `stop()`; `peak_kib` is the highest."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids, self.peak_kib, self._done = list(pids), 0, threading.Event()
        self.start()

    def run(self):
        while not self._done.is_set():
            total = 0
            for pid in self.pids:
                try:
                    total += rss_kib(pid)
                except (FileNotFoundError, ProcessLookupError):
                    pass
            self.peak_kib = max(self.peak_kib, total)
            self._done.wait(0.05)

    def stop(self):
        self._done.set()
        self.join(timeout=1)
        return self.peak_kib


def run_once(server_cmd, mode, args):
    server = subprocess.Popen(pinned(0, server_cmd), stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        url = re.search(r"(http://\S+)", line).group(1)
        time.sleep(0.2)
        cpu0, rss0 = cpu_ns(server.pid), rss_kib(server.pid)
        gen = subprocess.Popen(
            pinned(1, [str(BIN / "loadgen"), "--url", url, "--mode", mode, "--sockets", str(args.sockets),
                       "--concurrency", str(args.concurrency), "--hold-secs", str(args.hold)]),
            stdout=subprocess.PIPE, text=True)
        result, rss_held, cpu_storm, cpu_hold = None, None, None, 0
        for out in gen.stdout:
            event = json.loads(out)
            if event["event"] == "holding":
                cpu_storm = cpu_ns(server.pid) - cpu0
                time.sleep(min(1.0, args.hold / 2))
                rss_held = rss_kib(server.pid)
            elif event["event"] == "result":
                result = event
                cpu_hold = cpu_ns(server.pid) - cpu0 - (cpu_storm or 0)
        gen.wait(timeout=600)
        if cpu_storm is None:
            cpu_storm = cpu_ns(server.pid) - cpu0
            rss_held = rss_kib(server.pid)
        ok = max(result["ok"], 1)
        return {
            "ok": result["ok"], "failures": result["failures"],
            "first_failure": result.get("first_failure"),
            "sockets_per_s": result["sockets_per_s"], "p50_ms": result["p50_ms"], "p99_ms": result["p99_ms"],
            "cpu_us_per_socket": cpu_storm / 1000 / ok,
            "rss_kib_per_socket": (rss_held - rss0) / ok,
            "hold_cpu_us_per_socket": cpu_hold / 1000 / ok,
        }
    finally:
        server.kill()
        server.wait()


def raise_fd_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sockets", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--hold", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--check", action="store_true", help="exit non-zero if any socket failed")
    ap.add_argument("--rust-only", action="store_true", help="skip the Node.js servers")
    ap.add_argument("--only", help="comma-separated server keys to run (e.g. bare,message)")
    ap.add_argument("--chart", help="write a PNG chart here (needs matplotlib: pip install -r bench/requirements.txt)")
    ap.add_argument("--from-json", help="only redraw the table and chart from a previous run's JSON line")
    ap.add_argument("--compare-bin", help="another build's bench-server (e.g. from an older commit): its message "
                    "and handshake servers run as extra rows in the same rounds")
    ap.add_argument("--compare-label", default="other build", help="how the --compare-bin rows are labelled")
    ap.add_argument("--compare-args", default="", help="extra arguments for the --compare-bin servers")
    ap.add_argument("--server-args", default="", help="extra arguments for this build's message and handshake servers "
                    "(e.g. --expiry-warning-secs 0)")
    ap.add_argument("--token-ttl", type=int, help="lifetime of the load generator's tokens, seconds (default 3600): "
                    "short enough and the expiry warning fires during --hold (its cost: hold_cpu_us_per_socket)")
    args = ap.parse_args()
    raise_fd_limit(args.sockets * 2 + 1024)  # inherited by the server and the load generator
    if args.from_json:
        saved = json.loads(pathlib.Path(args.from_json).read_text().strip().splitlines()[-1])
        rows, labels = saved["rows"], {k: l for k, l, _, _ in SERVERS}
        labels.update(saved.get("labels", {}))
        report(rows, labels, saved["args"], args.chart)
        return
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "socketioxide-jwt-bench"], cwd=ROOT, check=True)
    servers = [s for s in SERVERS if not (args.rust_only and s[0].startswith("node"))]
    if args.only:
        servers = [s for s in servers if s[0] in args.only.split(",")]
    if args.server_args:
        servers = [(k, l + f" ({args.server_args})", cmd + args.server_args.split(), m) if k in ("message", "handshake")
                   else (k, l, cmd, m) for k, l, cmd, m in servers]
    if args.token_ttl:
        os.environ["BENCH_TOKEN_TTL_SECS"] = str(args.token_ttl)
    if args.compare_bin:
        for kind in ["message", "handshake"]:
            servers.append((f"{kind}-compare", f"socketioxide-jwt, {kind} mode, lean, {args.compare_label}",
                            [args.compare_bin, "--kind", kind, "--lean", *args.compare_args.split()], kind))
    if any(s[0].startswith("node") for s in servers) and not (ROOT / "bench/node/node_modules/socket.io").exists():
        subprocess.run(["npm", "ci", "--prefix", str(ROOT / "bench/node"), "--no-audit", "--no-fund"], check=True)
    # Rounds: every server once per round, so a slow spell of the machine hits them all alike.
    runs = {key: [] for key, _, _, _ in servers}
    for _ in range(args.runs):
        for key, _, cmd, mode in servers:
            runs[key].append(run_once(cmd, mode, args))
    rows, labels, lost = {}, {}, 0
    for key, label, _, _ in servers:
        lost += sum(r["failures"] for r in runs[key])
        for r in runs[key]:
            if r["failures"]:
                print(f"{key}: {r['failures']} failed, first: {r['first_failure']}", file=sys.stderr)
        rows[key] = {k: statistics.median(r[k] for r in runs[key]) for k in
                     ["sockets_per_s", "p50_ms", "p99_ms", "cpu_us_per_socket", "rss_kib_per_socket",
                      "hold_cpu_us_per_socket"]}
        labels[key] = label
    report(rows, labels, vars(args), args.chart)
    if args.check and lost:
        print(f"FAILED: {lost} socket(s) lost", file=sys.stderr)
        sys.exit(1)


def report(rows, labels, args, chart):
    base = rows["bare"]
    print(f"\n{args['sockets']} sockets, {args['concurrency']} at a time, websocket, HS256, median of {args['runs']}; "
          f"ratios against bare socketioxide (lean) in the same run\n")
    print("| server | authenticated sockets/s | p99 connect→authenticated | server CPU per socket | RSS per held socket |")
    print("|---|---|---|---|---|")
    for key, r in rows.items():
        ratio = lambda k: f" ({r[k] / base[k]:.2f}×)" if key != "bare" and base[k] else ""
        print(f"| {labels[key]} | {r['sockets_per_s']:.0f}{ratio('sockets_per_s')} | {r['p99_ms']:.1f} ms{ratio('p99_ms')} "
              f"| {r['cpu_us_per_socket']:.0f} µs{ratio('cpu_us_per_socket')} | {r['rss_kib_per_socket']:.1f} KiB{ratio('rss_kib_per_socket')} |")
    if "node-socketio-jwt" in rows:
        for key in ["message", "handshake"]:
            print(f"CPU per socket, {labels[key]} / Node + socketio-jwt: "
                  f"{rows[key]['cpu_us_per_socket'] / rows['node-socketio-jwt']['cpu_us_per_socket']:.2f}")
    for kind in ["message", "handshake"]:
        if f"{kind}-compare" in rows and kind in rows:
            for metric in ["cpu_us_per_socket", "sockets_per_s", "p99_ms", "rss_kib_per_socket", "hold_cpu_us_per_socket"]:
                print(f"{kind}: this build / {labels[kind + '-compare']}, {metric}: "
                      f"{rows[kind][metric] / rows[kind + '-compare'][metric]:.3f}")
    print(json.dumps({"args": args, "rows": rows, "labels": labels}))
    if chart:
        draw(rows, labels, args, chart)


def bar_chart(rows, labels, panels, title, path, grid=None):
    """Horizontal bars, one panel per (metric, title), one bar per row; needs matplotlib. Node's
    rows grey, rows whose key ends in `patched` green, the others blue."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no chart: pip install -r bench/requirements.txt", file=sys.stderr)
        return
    keys = list(rows)
    names = [labels[k].replace(", ", "\n", 1) for k in keys]
    colors = ["#a0aec0" if k.startswith("node") else "#68d391" if k.endswith("patched") else "#2b6cb0" for k in keys]
    nrows, ncols = grid or (1, len(panels))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols if grid is None else 16, 0.55 * len(keys) + 1.8 if grid is None else 9))
    for ax, (metric, panel_title) in zip(getattr(axes, "flat", [axes]), panels):
        values = [rows[k][metric] for k in keys]
        ax.barh(names, values, color=colors)
        ax.invert_yaxis()
        ax.set_title(panel_title, fontsize=10)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:.1f}" if v < 100 else f" {v:.0f}", va="center", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"chart: {path}")


def draw(rows, labels, args, path):
    bar_chart(rows, labels,
              [("cpu_us_per_socket", "server CPU per socket, µs (lower is better)"),
               ("sockets_per_s", "authenticated sockets/s (higher is better)"),
               ("p99_ms", "p99 connect→authenticated, ms (lower is better)"),
               ("rss_kib_per_socket", "RSS per held socket, KiB (lower is better)")],
              f"Connection storm: {args['sockets']} sockets, {args['concurrency']} at a time, websocket, HS256 "
              f"(median of {args['runs']}; server on one core, load on the other)", path, grid=(2, 2))


if __name__ == "__main__":
    main()
