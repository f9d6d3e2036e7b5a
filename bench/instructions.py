#!/usr/bin/env python3
"""Instructions per connection, counted by callgrind: each server runs under valgrind while the
load generator opens SOCKETS sockets; the count covers the connect phase only (zeroed when the
server listens, dumped when the last socket is authenticated), divided by SOCKETS.

CPU time on these shared machines moves by 20-30 % from one run to the next; an instruction
count does not, so a change to this crate's per-connection work shows here first, against the
round-trip row (bare socketioxide with message mode's extra exchange) as the baseline:

    python3 bench/instructions.py --sockets 2000
    python3 bench/instructions.py --compare-bin /tmp/before/bench-server   # a build before a change

User-space instructions only (the kernel's TCP work is not counted), and valgrind's SHA-256 runs
without the CPU's SHA extensions: read the figures as where our own code's work goes, and the CPU
time of bench/capacity.py as what a connection costs. Needs valgrind. Not a CI step.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run as storm_bench  # noqa: E402  (paths)

ROOT, BIN = storm_bench.ROOT, storm_bench.BIN
KINDS = [("round-trip", "message"), ("message", "message"), ("handshake", "handshake")]


def instructions(server_bin, kind, mode, sockets, extra_args=()):
    """Instructions per connection of `server_bin --kind KIND --lean EXTRA_ARGS`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "callgrind.out"
        server = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                                   str(server_bin), "--kind", kind, "--lean", *extra_args],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            url = storm_bench.server_url(server)
            if not url:
                sys.exit(f"{kind}: the server did not start under valgrind")
            subprocess.run(["callgrind_control", "--zero", str(server.pid)], check=True, capture_output=True)
            gen = subprocess.Popen([str(BIN / "loadgen"), "--url", url, "--mode", mode, "--sockets", str(sockets),
                                    "--concurrency", "50", "--hold-secs", "2", "--timeout-secs", "300"],
                                   stdout=subprocess.PIPE, text=True)
            for line in gen.stdout:
                event = json.loads(line)
                if event["event"] == "holding":
                    if event["sockets"] != sockets:
                        sys.exit(f"{kind}: {sockets - event['sockets']} socket(s) not authenticated")
                    subprocess.run(["callgrind_control", "--dump", str(server.pid)], check=True, capture_output=True)
            gen.wait(timeout=60)
        finally:
            server.terminate()
            server.wait(timeout=120)
        dumps = sorted(pathlib.Path(tmp).glob("callgrind.out.*"))
        if not dumps:
            sys.exit(f"{kind}: no callgrind dump")
        summary = subprocess.run(["callgrind_annotate", str(dumps[0])], capture_output=True, text=True).stdout
        m = re.search(r"([\d,]+)\s+\([\s\d.]+%\)\s+PROGRAM TOTALS", summary)
        if not m:
            sys.exit(f"{kind}: no totals in callgrind's output")
        return int(m.group(1).replace(",", "")) / sockets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sockets", type=int, default=2000)
    ap.add_argument("--compare-bin", help="another build's bench-server, counted the same way")
    ap.add_argument("--out", help="also write the JSON line to this file")
    args = ap.parse_args()
    storm_bench.raise_fd_limit(20000)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "socketioxide-jwt-bench"], cwd=ROOT, check=True)
    builds = [("this build", BIN / "bench-server")]
    if args.compare_bin:
        builds.append((f"compare ({args.compare_bin})", pathlib.Path(args.compare_bin)))
    rows = {}
    for label, server_bin in builds:
        for kind, mode in KINDS:
            rows[f"{kind} ({label})"] = instructions(server_bin, kind, mode, args.sockets)
            print(f"{kind} ({label}): {rows[f'{kind} ({label})']:.0f}", file=sys.stderr, flush=True)
    print(f"\nInstructions per connection (callgrind, connect phase, {args.sockets} sockets)\n")
    print("| server | instructions | over the round trip |")
    print("|---|---|---|")
    for label, _ in builds:
        base = rows[f"round-trip ({label})"]
        for kind, _ in KINDS:
            n = rows[f"{kind} ({label})"]
            print(f"| {kind} ({label}) | {n / 1000:.1f}k | {(n - base) / 1000:+.1f}k |")
    result = json.dumps({"sockets": args.sockets, "rows": rows, "time": time.strftime("%Y-%m-%d")})
    print(result)
    if args.out:
        pathlib.Path(args.out).write_text(result + "\n")


if __name__ == "__main__":
    main()
