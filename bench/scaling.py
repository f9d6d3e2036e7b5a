#!/usr/bin/env python3
"""Cost per socket against sockets: does a socket cost more when the server already holds many?

For each size (1 000, 5 000, 10 000 and 19 000 sockets: a process may hold at most 20 000 open
files here) and each server (bare socketioxide, socketioxide-jwt in message and handshake mode,
Node socket.io + socketio-jwt), one server process pinned to core 0 takes that many sockets from
load generators pinned to core 1 and holds them (bench/capacity.py's run, without the storm).
Every (size, server) pair runs once per round, rounds interleaved, so a slow spell of the machine
hits them all alike; ratios are taken within a round, then the median of the rounds is reported.

Measured per (size, server): server CPU per socket (µs), and its ratio to bare socketioxide and to
Node + socketio-jwt of the same size and round; RSS per held socket (KiB). With --instructions,
user-space instructions per connection counted by callgrind (the Rust servers; the machine's noise
cannot move them) at every size; with --heap, heaptrack's heap bytes per held socket.

    pip install -r bench/requirements.txt                 # matplotlib, for the plot
    python3 bench/scaling.py                              # the full curve: table, JSON, docs/scaling.png
    python3 bench/scaling.py --instructions --heap        # and the deterministic counts beside it
    python3 bench/scaling.py --sizes 1000 --runs 1 --check --no-plot   # the CI smoke run

The table it prints and the plot it draws are what the README shows.
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capacity  # noqa: E402  (one server under load: run_once)
import run as storm_bench  # noqa: E402  (the servers, paths, limits)

ROOT, BIN = storm_bench.ROOT, storm_bench.BIN
SIZES = [1000, 5000, 10000, 19000]
KEYS = ["bare", "message", "handshake", "node-socketio-jwt"]
OURS = ["message", "handshake"]
BASE, NODE = "bare", "node-socketio-jwt"


def measure(servers, args):
    """Every (size, server) once per round; returns {key: {size: [row per round]}}."""
    load = argparse.Namespace(sockets=0, concurrency=args.concurrency, hold=args.hold, storm=False, storm_delay_ms=0)
    runs = {key: {size: [] for size in args.sizes} for key, *_ in servers}
    for round_no in range(args.runs):
        for size in args.sizes:
            load.sockets = size
            for key, _, cmd, mode in servers:
                row = capacity.run_once(cmd, mode, load)
                runs[key][size].append(row)
                print(f"round {round_no + 1}, {size} sockets, {key}: {row['cpu_us_per_socket']:.0f} µs, "
                      f"{row['rss_kib_per_socket']:.2f} KiB, lost {row['lost']}", file=sys.stderr, flush=True)
    return runs


def summarise(runs, args):
    """Medians per (server, size), and the within-round ratios' medians."""
    table = {}
    for key, by_size in runs.items():
        table[key] = {}
        for size, rows in by_size.items():
            cell = {m: statistics.median(r[m] for r in rows)
                    for m in ["cpu_us_per_socket", "rss_kib_per_socket", "sockets_per_s", "p99_ms", "gen_core_share"]}
            cell["lost"] = sum(r["lost"] for r in rows)
            for other, name in [(BASE, "vs_bare"), (NODE, "vs_node")]:
                if other in runs and other != key:
                    ratios = [r["cpu_us_per_socket"] / o["cpu_us_per_socket"] for r, o in zip(rows, runs[other][size])]
                    cell[f"cpu_{name}"] = statistics.median(ratios)
                    cell[f"cpu_{name}_per_round"] = ratios
            if BASE in runs and key != BASE:
                overs = [r["rss_kib_per_socket"] - b["rss_kib_per_socket"] for r, b in zip(rows, runs[BASE][size])]
                cell["rss_kib_over_bare"] = statistics.median(overs)
            table[key][size] = cell
    return table


def count_instructions(table, servers, args):
    """callgrind's instructions per connection, each Rust server at each size."""
    import instructions
    for key, _, cmd, mode in servers:
        if key.startswith("node"):
            continue
        for size in args.sizes:
            kind = cmd[cmd.index("--kind") + 1]
            # Connecting 19 000 sockets under valgrind outlasts a heartbeat interval: with the
            # default one, the held sockets' pings would count as connection work.
            n = instructions.instructions(pathlib.Path(cmd[0]), kind, mode, size, ["--ping-interval-secs", "3600"])
            table[key][size]["instructions"] = n
            print(f"{size} sockets, {key}: {n:.0f} instructions per connection", file=sys.stderr, flush=True)


def count_heap(table, servers, args):
    """heaptrack's heap bytes per held socket, each Rust server at each size."""
    import heap
    for key, _, cmd, mode in servers:
        if key.startswith("node"):
            continue
        empty = heap.run(cmd, mode, 0, 0)
        for size in args.sizes:
            table[key][size]["heap_bytes"] = (heap.run(cmd, mode, size, args.hold) - empty) / size
            print(f"{size} sockets, {key}: {table[key][size]['heap_bytes']:.0f} heap bytes per held socket",
                  file=sys.stderr, flush=True)


def report(table, labels, args):
    sizes = sorted({s for cells in table.values() for s in cells}, key=int)
    print(f"\nCost per socket against sockets held by one server process (one core), {args['concurrency']} connecting "
          f"at a time, median of {args['runs']} interleaved rounds (ratios taken within each round)\n")
    print("| server | sockets | CPU per socket | × bare | × Node + socketio-jwt | RSS per held socket | over bare "
          "| instructions per connection | heap per held socket | lost |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, cells in table.items():
        for size in sizes:
            c = cells[size]
            fmt = lambda m, f: f.format(c[m]) if m in c else ""
            print(f"| {labels[key]} | {int(size):,} | {c['cpu_us_per_socket']:.0f} µs | {fmt('cpu_vs_bare', '{:.2f}')} "
                  f"| {fmt('cpu_vs_node', '{:.2f}')} | {c['rss_kib_per_socket']:.2f} KiB | {fmt('rss_kib_over_bare', '{:+.2f} KiB')} "
                  f"| {fmt('instructions', '{:,.0f}')} | {fmt('heap_bytes', '{:,.0f} B')} | {c['lost']} |")
    print()
    for key in OURS:
        if key in table and BASE in table:
            first = table[key][sizes[0]].get("cpu_vs_bare")
            if first:
                drift = " ".join(f"{int(s):,}: {table[key][s]['cpu_vs_bare'] / first:.3f}" for s in sizes)
                print(f"{labels[key]}: × bare, relative to its {int(sizes[0]):,}-socket value: {drift}")


def draw(table, labels, args, path):
    """Three panels against sockets, one line per server: CPU per socket, CPU per socket as a
    multiple of bare socketioxide's (the flatness the curve is about), RSS per held socket."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: pip install -r bench/requirements.txt", file=sys.stderr)
        return
    styles = {BASE: ("#718096", "o", "--"), "message": ("#2b6cb0", "s", "-"), "handshake": ("#38a169", "^", "-"),
              NODE: ("#c05621", "D", ":")}
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    panels = [("cpu_us_per_socket", "server CPU per new socket, µs (lower is better)"),
              ("cpu_vs_bare", "CPU per socket ÷ bare socketioxide's, same round"),
              ("rss_kib_per_socket", "RSS per held socket, KiB (lower is better)")]
    for ax, (metric, title) in zip(axes, panels):
        for key, cells in table.items():
            sizes = [s for s in sorted(cells, key=int) if metric in cells[s]]
            if not sizes:
                continue
            color, marker, line = styles.get(key, ("#000000", "x", "-"))
            ax.plot([int(s) for s in sizes], [cells[s][metric] for s in sizes], color=color, marker=marker,
                    linestyle=line, label=labels[key])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("sockets held by the process")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Cost per socket against sockets: one server process on one core, median of {args['runs']} "
                 f"interleaved rounds ({time.strftime('%Y-%m-%d')})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated socket counts")
    ap.add_argument("--runs", type=int, default=3, help="interleaved rounds")
    ap.add_argument("--concurrency", type=int, default=500)
    ap.add_argument("--hold", type=int, default=3, help="seconds held (RSS is read after 2 s)")
    ap.add_argument("--only", default=",".join(KEYS), help="comma-separated server keys")
    ap.add_argument("--instructions", action="store_true", help="also count instructions per connection (callgrind)")
    ap.add_argument("--heap", action="store_true", help="also count heap bytes per held socket (heaptrack)")
    ap.add_argument("--plot", default=str(ROOT / "docs" / "scaling.png"), help="where the plot goes")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--out", help="also write the JSON to this file")
    ap.add_argument("--from-json", help="only redraw the table and plot from a previous run's --out")
    ap.add_argument("--check", action="store_true", help="exit non-zero if any socket was lost")
    args = ap.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    if args.from_json:
        saved = json.loads(pathlib.Path(args.from_json).read_text())
        report(saved["table"], saved["labels"], saved["args"])
        if not args.no_plot:
            draw(saved["table"], saved["labels"], saved["args"], args.plot)
        return
    storm_bench.raise_fd_limit(20000)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "socketioxide-jwt-bench"], cwd=ROOT, check=True)
    servers = [s for s in storm_bench.SERVERS if s[0] in args.only.split(",")]
    if any(k.startswith("node") for k, *_ in servers) and not (ROOT / "bench/node/node_modules/socket.io").exists():
        subprocess.run(["npm", "ci", "--prefix", str(ROOT / "bench/node"), "--no-audit", "--no-fund"], check=True)
    runs = measure(servers, args)
    table = summarise(runs, args)
    if args.instructions:
        count_instructions(table, servers, args)
    if args.heap:
        count_heap(table, servers, args)
    labels = {k: l for k, l, *_ in servers}
    saved = {"args": vars(args), "table": table, "labels": labels, "date": time.strftime("%Y-%m-%d")}
    # JSON object keys are strings: the table is read back the same way it is written.
    saved = json.loads(json.dumps(saved))
    report(saved["table"], labels, saved["args"])
    print(json.dumps(saved))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(saved) + "\n")
    if not args.no_plot:
        draw(saved["table"], labels, saved["args"], args.plot)
    lost = sum(c["lost"] for cells in table.values() for c in cells.values())
    if args.check and lost:
        print(f"FAILED: {lost} socket(s) lost", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
