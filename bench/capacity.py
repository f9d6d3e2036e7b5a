#!/usr/bin/env python3
"""One instance at its limit, and the reconnect storm: each server (pinned to core 0) takes
SOCKETS sockets (~19 000: a process may hold at most 20 000 open files here) from several load
generator processes (pinned to core 1, each under the open-file limit, each on its own loopback
source address), holds them, then, with --storm, every client drops its connection at once and
reconnects with its token (at once, or after socket.io-client's jittered delay: --storm-delay-ms
1000), retrying with socket.io-client's backoff.

Every server runs once per round (interleaved), medians of RUNS rounds, ratios from the same run:

    python3 bench/capacity.py --sockets 19000 --concurrency 500 --runs 3 --storm
    python3 bench/capacity.py --sockets 19000 --concurrency 500 --runs 3 --storm --storm-delay-ms 1000
    python3 bench/capacity.py --sockets 2000 --runs 1 --storm --check      # the CI smoke run

Reported per server: authenticated sockets/s, p99 connect→authenticated, server CPU per socket,
RSS per held socket, lost sockets, and the load generators' own CPU (the share of their core they
used: a row at >= 0.9 was paced by the load generator, and its sockets/s and p99 are marked, not
quoted). Storm: time until 99 % and 100 % are authenticated again, p99 of a reconnect, server CPU
per reconnected socket, peak RSS, lost.
"""
import argparse, json, math, pathlib, statistics, subprocess, sys, threading, time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run as storm_bench  # noqa: E402  (the servers, /proc readers, pinning)

ROOT, BIN = storm_bench.ROOT, storm_bench.BIN
PER_PROCESS = 9000  # sockets per load generator process (each under the open-file limit)
KEYS = ["bare", "round-trip", "message", "handshake", "node-bare", "node-socketio-jwt"]
SETTLE = 2.0  # seconds after the last socket is up: deferred work (Node's garbage collector) counts too


def start_server(cmd):
    server = subprocess.Popen(storm_bench.pinned(0, cmd), stdout=subprocess.PIPE, text=True)
    import re
    url = re.search(r"(http://\S+)", server.stdout.readline()).group(1)
    time.sleep(0.2)
    return server, url


def run_once(cmd, mode, args):
    server, url = start_server(cmd)
    gens = []
    try:
        cpu0, rss0 = storm_bench.cpu_ns(server.pid), storm_bench.rss_kib(server.pid)
        procs = max(1, math.ceil(args.sockets / PER_PROCESS))
        share = [args.sockets // procs + (1 if i < args.sockets % procs else 0) for i in range(procs)]
        first = 0
        for i, n in enumerate(share):
            cmd_gen = [str(BIN / "loadgen"), "--url", url, "--mode", mode, "--sockets", str(n),
                       "--concurrency", str(max(1, args.concurrency // procs)), "--hold-secs", str(args.hold),
                       "--first-user", str(first), "--source-ip", f"127.0.0.{2 + i}", "--latencies", "--control"]
            if args.storm:
                cmd_gen += ["--storm", "--storm-delay-ms", str(args.storm_delay_ms)]
            gens.append(subprocess.Popen(storm_bench.pinned(1, cmd_gen), stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True))
            first += n
        events = [dict() for _ in gens]

        def read(i, until):
            for line in gens[i].stdout:
                e = json.loads(line)
                events[i][e["event"]] = e
                if e["event"] == until:
                    return

        def read_all(until):
            threads = [threading.Thread(target=read, args=(i, until)) for i in range(len(gens))]
            [t.start() for t in threads]
            [t.join() for t in threads]

        # Every generator connects; when all hold, the server's CPU and RSS are read.
        read_all("holding")
        cpu_connect = storm_bench.cpu_ns(server.pid) - cpu0
        time.sleep(SETTLE)
        cpu_settled = storm_bench.cpu_ns(server.pid) - cpu0
        rss_held = storm_bench.rss_kib(server.pid)
        # The hold ends (and the storm starts) at once in every process.
        cpu_before = storm_bench.cpu_ns(server.pid)
        if args.storm:
            sampler = storm_bench.PeakRss([server.pid])
        for g in gens:
            g.stdin.write("storm\n" if args.storm else "end\n")
            g.stdin.flush()
        read_all("result")
        row = {}
        results = [e["result"] for e in events]
        ok = sum(r["ok"] for r in results)
        seconds = max(r["seconds"] for r in results)
        latencies = sorted(x for r in results for x in r["latencies_ms"])
        gen_cpu = sum(r["gen_cpu_s"] for r in results)
        row.update({
            "ok": ok, "lost": sum(r["failures"] for r in results), "retried": sum(r["retried"] for r in results),
            "first_failure": next((r["first_failure"] for r in results if r["first_failure"]), None),
            "sockets_per_s": ok / seconds, "p99_ms": storm_bench.pct(latencies, 99),
            "cpu_us_per_socket": cpu_connect / 1000 / max(ok, 1),
            "settled_cpu_us_per_socket": cpu_settled / 1000 / max(ok, 1),
            "rss_kib_per_socket": (rss_held - rss0) / max(ok, 1),
            "rss_held_mib": rss_held / 1024,
            # The generators share core 1: their summed CPU over the wall time of the connect phase.
            "gen_core_share": gen_cpu / seconds,
        })
        if args.storm:
            read_all("storm-result")
            peak_kib = sampler.stop()
            storms = [e.get("storm-result") for e in events]
            if any(s is None for s in storms):
                raise RuntimeError("a load generator ended without a storm result")
            back = sorted(x for s in storms for x in s["back_ms"])
            total = sum(s["sockets"] for s in storms)
            storm_ok = sum(s["ok"] for s in storms)
            row.update({
                "storm_ok": storm_ok, "storm_lost": total - storm_ok, "storm_retried": sum(s["retried"] for s in storms),
                "storm_first_failure": next((s["first_failure"] for s in storms if s["first_failure"]), None),
                "storm_t99_ms": storm_bench.pct(back, 99), "storm_t100_ms": back[-1] if back else 0,
                "storm_p99_ms": max(s["p99_ms"] for s in storms),
                "storm_cpu_us_per_socket": (storm_bench.cpu_ns(server.pid) - cpu_before) / 1000 / max(storm_ok, 1),
                "storm_peak_rss_mib": peak_kib / 1024,
                "storm_gen_core_share": sum(s["gen_cpu_s"] for s in storms) / max(back[-1] / 1000 if back else 1, 1e-9),
            })
        for g in gens:
            g.wait(timeout=300)
        return row
    finally:
        for g in gens:
            if g.poll() is None:
                g.kill()
        server.kill()
        server.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sockets", type=int, default=19000)
    ap.add_argument("--concurrency", type=int, default=500)
    ap.add_argument("--hold", type=int, default=3, help="seconds held (the runner samples after 2 s)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--storm", action="store_true", help="after the hold, drop and reconnect every socket")
    ap.add_argument("--storm-delay-ms", type=int, default=0,
                    help="0: every client reconnects at once; 1000: socket.io-client's jittered delay (500-1500 ms)")
    ap.add_argument("--only", default=",".join(KEYS), help="comma-separated server keys")
    ap.add_argument("--check", action="store_true", help="exit non-zero if any socket was lost")
    ap.add_argument("--out", help="also write the JSON line to this file")
    ap.add_argument("--chart", help="write a PNG chart here (needs matplotlib: pip install -r bench/requirements.txt)")
    ap.add_argument("--from-json", help="only redraw the tables and chart from a previous run's JSON (--out)")
    ap.add_argument("--patched-bin", help="a bench-server built by bench/upstream/build.sh: its bare, message and "
                    "handshake servers run as extra rows (socketioxide + the proposed upstream patches)")
    ap.add_argument("--current-thread", action="store_true",
                    help="extra rows: the Rust servers on a current_thread runtime (one thread, as one instance "
                    "per core runs), beside the default multi-thread runtime")
    args = ap.parse_args()
    if args.from_json:
        saved = json.loads(pathlib.Path(args.from_json).read_text())
        report(saved["rows"], saved["labels"], saved["args"])
        if args.chart:
            draw(saved["rows"], saved["labels"], saved["args"], args.chart)
        return
    storm_bench.raise_fd_limit(20000)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "socketioxide-jwt-bench"], cwd=ROOT, check=True)
    servers = [s for s in storm_bench.SERVERS if s[0] in args.only.split(",")]
    if args.patched_bin:
        servers += [(f"{kind}-patched", f"{label} + proposed socketioxide patches", [args.patched_bin, "--kind", kind, "--lean"], mode)
                    for kind, label, mode in [("bare", "bare socketioxide, lean", "bare"),
                                              ("message", "socketioxide-jwt, message mode, lean", "message"),
                                              ("handshake", "socketioxide-jwt, handshake mode, lean", "handshake")]]
    if args.current_thread:
        servers += [(f"{key}-current-thread", f"{label}, current_thread runtime", cmd + ["--runtime", "current-thread"], mode)
                    for key, label, cmd, mode in list(servers) if not key.startswith("node") and "-patched" not in key]
    if any(k.startswith("node") for k, *_ in servers) and not (ROOT / "bench/node/node_modules/socket.io").exists():
        subprocess.run(["npm", "ci", "--prefix", str(ROOT / "bench/node"), "--no-audit", "--no-fund"], check=True)
    runs = {k: [] for k, *_ in servers}
    for _ in range(args.runs):
        for key, _, cmd, mode in servers:
            runs[key].append(run_once(cmd, mode, args))
            print(f"{key}: {json.dumps(runs[key][-1])}", file=sys.stderr, flush=True)
    rows, labels = {}, {k: l for k, l, *_ in servers}
    for key in runs:
        metrics = [m for m in runs[key][0] if isinstance(runs[key][0][m], (int, float)) and not isinstance(runs[key][0][m], bool)]
        rows[key] = {m: statistics.median(r[m] for r in runs[key]) for m in metrics}
        rows[key]["lost"] = sum(r["lost"] for r in runs[key])
        if args.storm:
            rows[key]["storm_lost"] = sum(r["storm_lost"] for r in runs[key])
    if "node-socketio-jwt" in runs:
        # Each round's ratio from servers measured minutes apart: steadier than a ratio of medians
        # when the machine drifts over the run (seen on these shared machines: Node's own cost
        # moved by 25 % within an hour).
        node = [r["cpu_us_per_socket"] for r in runs["node-socketio-jwt"]]
        for key in runs:
            rows[key]["cpu_vs_node_per_round"] = [r["cpu_us_per_socket"] / n for r, n in zip(runs[key], node)]
    report(rows, labels, vars(args))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows, "labels": labels}) + "\n")
    if args.chart:
        draw(rows, labels, vars(args), args.chart)
    lost = sum(r["lost"] + r.get("storm_lost", 0) for r in rows.values())
    if args.check and lost:
        print(f"FAILED: {lost} socket(s) lost", file=sys.stderr)
        sys.exit(1)


def report(rows, labels, args):
    base = rows.get("bare")
    node = rows.get("node-socketio-jwt")
    print(f"\n{args['sockets']} sockets on one server process (one core), {args['concurrency']} connecting at a time, "
          f"median of {args['runs']} interleaved rounds\n")
    print("| server | sockets/s | p99 connect→authenticated | CPU per socket | CPU per socket, incl. 2 s after | RSS per held socket | lost | load generators' core |")
    print("|---|---|---|---|---|---|---|---|")
    for key, r in rows.items():
        bound = r["gen_core_share"] >= 0.9
        ratio = lambda m: f" ({r[m] / base[m]:.2f}×)" if base and key != "bare" and base[m] else ""
        mark = " (load-generator bound)" if bound else ""
        print(f"| {labels[key]} | {r['sockets_per_s']:.0f}{mark} | {r['p99_ms']:.0f} ms{mark} | {r['cpu_us_per_socket']:.0f} µs{ratio('cpu_us_per_socket')} "
              f"| {r['settled_cpu_us_per_socket']:.0f} µs{ratio('settled_cpu_us_per_socket')} "
              f"| {r['rss_kib_per_socket']:.1f} KiB{ratio('rss_kib_per_socket')} | {r['lost']} | {r['gen_core_share']:.2f} |")
    if node:
        for key in ["bare", "round-trip", "message", "handshake", "bare-patched", "message-patched", "handshake-patched"]:
            if key in rows:
                print(f"CPU per socket, {labels[key]} / Node + socketio-jwt: {rows[key]['cpu_us_per_socket'] / node['cpu_us_per_socket']:.2f} "
                      f"(incl. 2 s after: {rows[key]['settled_cpu_us_per_socket'] / node['settled_cpu_us_per_socket']:.2f}); "
                      f"RSS per held socket: {rows[key]['rss_kib_per_socket'] / node['rss_kib_per_socket']:.2f}")
                per_round = rows[key].get("cpu_vs_node_per_round")
                if per_round:
                    print(f"  CPU per socket / Node + socketio-jwt, round by round: {' '.join(f'{r:.3f}' for r in per_round)} "
                          f"(median {statistics.median(per_round):.3f})")
    if args["storm"]:
        delay = args["storm_delay_ms"]
        print("\nReconnect storm: every client drops at once and reconnects "
              + ("at once" if not delay else f"after {delay // 2}-{delay * 3 // 2} ms (jittered)") + "\n")
        print("| server | 99 % back | 100 % back | p99 reconnect | CPU per reconnect | peak RSS | lost |")
        print("|---|---|---|---|---|---|---|")
        for key, r in rows.items():
            print(f"| {labels[key]} | {r['storm_t99_ms'] / 1000:.2f} s | {r['storm_t100_ms'] / 1000:.2f} s | {r['storm_p99_ms']:.0f} ms "
                  f"| {r['storm_cpu_us_per_socket']:.0f} µs | {r['storm_peak_rss_mib']:.0f} MiB | {r['storm_lost']} |")
    print(json.dumps({"args": args, "rows": rows, "labels": labels}))


def draw(rows, labels, args, path):
    """CPU per socket, RSS per held socket, and (with a storm) the time until all are back."""
    panels = [("cpu_us_per_socket", "server CPU per new socket, µs (lower is better)"),
              ("rss_kib_per_socket", "RSS per held socket, KiB (lower is better)")]
    if args.get("storm"):
        panels.append(("storm_t100_ms", "storm: all back, ms (lower is better)"))
    delay = args.get("storm_delay_ms", 0)
    storm_bench.bar_chart(
        rows, labels, panels,
        f"{args['sockets']} sockets on one server process (one core), {args['concurrency']} connecting at a time; "
        "storm: all reconnect " + ("at once" if not delay else "after a jittered delay")
        + f" (median of {args['runs']} interleaved rounds)", path)


if __name__ == "__main__":
    main()
