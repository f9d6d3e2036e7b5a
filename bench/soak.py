#!/usr/bin/env python3
"""Soak test: one socketioxide-jwt server (message mode, lean) holding SOCKETS authenticated
sockets for SECS seconds, each refreshing its token every REFRESH seconds, CHURN percent of them
reconnecting every second. Fails unless what a leak would grow stays flat after the warm-up:
RSS, alive tokio tasks, pending places and rooms (their drift from the first to the last tenth of
the run, within the bounds printed), and no socket fails.

    python3 bench/soak.py                                   # 10 000 sockets, 10 minutes
    python3 bench/soak.py --sockets 1000 --secs 60 --refresh 10     # the CI version
"""
import argparse, json, os, pathlib, resource, statistics, subprocess, sys, threading, time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release"


def pinned(core, cmd):
    return (["taskset", "-c", str(core)] if (os.cpu_count() or 1) > 1 else []) + cmd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sockets", type=int, default=10_000)
    ap.add_argument("--secs", type=int, default=600)
    ap.add_argument("--refresh", type=int, default=30)
    ap.add_argument("--churn", type=float, default=1.0, help="percent of the sockets reconnecting per second")
    ap.add_argument("--warmup", type=int, default=15, help="seconds after every socket first connected")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.sockets * 2 + 1024)), hard))
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "socketioxide-jwt-bench"], cwd=ROOT, check=True)

    server = subprocess.Popen(
        pinned(0, [str(BIN / "bench-server"), "--kind", "message", "--lean", "--stats-every-ms", "1000"]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stats, client_ticks = [], []
    try:
        url = server.stdout.readline().split()[-1]
        threading.Thread(target=lambda: [stats.append(json.loads(l)) for l in server.stderr if l.startswith("{")],
                         daemon=True).start()
        client = subprocess.Popen(
            pinned(1, [str(BIN / "soak-client"), "--url", url, "--sockets", str(args.sockets), "--secs", str(args.secs),
                       "--refresh-secs", str(args.refresh), "--churn-percent", str(args.churn)]),
            stdout=subprocess.PIPE, text=True)
        for line in client.stdout:
            client_ticks.append(json.loads(line))
        client.wait(timeout=60)
    finally:
        time.sleep(1.5)  # one more server sample after the load stopped
        server.kill()
        server.wait()

    result = client_ticks[-1]
    all_up = next((t["t_ms"] for t in client_ticks if t["authenticated"] >= args.sockets), None)
    if all_up is None:
        sys.exit(f"FAILED: only {result['authenticated']} of {args.sockets} sockets ever authenticated")
    steady = [s for s in stats if all_up + args.warmup * 1000 <= s["t_ms"] <= args.secs * 1000 - 1000]
    if len(steady) < 10:
        sys.exit(f"FAILED: too few steady samples ({len(steady)}): run longer than the warm-up")
    tenth = max(1, len(steady) // 10)
    first, last = steady[:tenth], steady[-tenth:]
    churn_per_s = args.sockets * args.churn / 100
    bounds = {  # allowed drift, first tenth to last tenth (mean)
        "rss_kib": 0.05 * statistics.mean(s["rss_kib"] for s in first) + 4096,
        "tasks": 0.02 * args.sockets + 4 * churn_per_s + 20,
        "rooms": 0.02 * args.sockets + churn_per_s + 5,
        "sockets": 0.02 * args.sockets + churn_per_s + 5,
    }
    failed = []
    print(f"\n{args.sockets} sockets for {args.secs} s, refresh every {args.refresh} s, {args.churn} %/s reconnecting; "
          f"all authenticated after {all_up / 1000:.1f} s; steady samples: {len(steady)}\n")
    print("| what | first tenth | last tenth | drift | bound | max |")
    print("|---|---|---|---|---|---|")
    for key, bound in bounds.items():
        a, b = statistics.mean(s[key] for s in first), statistics.mean(s[key] for s in last)
        peak = max(s[key] for s in steady)
        ok = abs(b - a) <= bound
        failed += [] if ok else [key]
        print(f"| {key} | {a:.0f} | {b:.0f} | {b - a:+.0f} | ±{bound:.0f} | {peak} |{'' if ok else ' FAILED'}")
    pending_bound = 2 * churn_per_s + 10
    pending_peak = max(s["pending"] for s in steady)
    print(f"| pending (peak) | | | | ≤ {pending_bound:.0f} | {pending_peak} |{'' if pending_peak <= pending_bound else ' FAILED'}")
    if pending_peak > pending_bound:
        failed.append("pending")
    print(f"\nclient: {result['authenticated']} authentications, {result['refreshed']} refreshes, "
          f"{result['reconnects']} reconnects, {result['failures']} failures")
    if result["failures"]:
        failed.append("client failures")
    after = stats[-1]
    print(f"after the load stopped: {after['sockets']} sockets, {after['pending']} pending, {after['rooms']} rooms, "
          f"{after['tasks']} tasks, {after['rss_kib'] / 1024:.1f} MiB RSS")
    print(json.dumps({"args": vars(args), "first": first[0], "last": last[-1], "after": after, "client": result}))
    if failed:
        sys.exit(f"FAILED: {', '.join(failed)}")


if __name__ == "__main__":
    main()
