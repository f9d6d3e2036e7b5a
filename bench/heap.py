#!/usr/bin/env python3
"""Heap per held socket, by heaptrack: each server holds N authenticated sockets (the storm load
generator), and heaptrack's peak heap, minus the same server's peak with no socket, is divided by
N. Run servers of two builds side by side to measure a change (before/after), e.g.

    python3 bench/heap.py --sockets 2000 --compare-bin /tmp/old/bench-server

Needs heaptrack (apt-get install heaptrack). Not a CI step.
"""
import argparse
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run as storm_bench  # noqa: E402  (server_url)

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release"


def peak_bytes(trace):
    out = subprocess.run(["heaptrack_print", "--print-peaks", "0", "--print-allocators", "0",
                          "--print-temporary", "0", "--print-leaks", "0", "-f", str(trace)],
                         capture_output=True, text=True).stdout
    m = re.search(r"peak heap memory consumption:\s*([\d.]+)([KMG]?)B?", out)
    if not m:
        sys.exit(f"no peak in heaptrack's output for {trace}:\n{out[-2000:]}")
    return float(m.group(1)) * {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]


def run(server_cmd, mode, sockets, hold):
    with tempfile.TemporaryDirectory() as tmp:
        trace = pathlib.Path(tmp) / "trace"
        server = subprocess.Popen(["heaptrack", "-o", str(trace), *server_cmd], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        url = storm_bench.server_url(server)
        if sockets:
            gen = subprocess.run([str(BIN / "loadgen"), "--url", url, "--mode", mode, "--sockets", str(sockets),
                                  "--concurrency", "100", "--hold-secs", str(hold)],
                                 capture_output=True, text=True, check=True)
            result = [json.loads(l) for l in gen.stdout.splitlines() if '"result"' in l][0]
            assert result["failures"] == 0, result
        else:
            time.sleep(1)
        # The server itself (heaptrack's wrapper then writes the trace and exits).
        app = subprocess.run(["pgrep", "-n", "-f", " ".join(server_cmd)], capture_output=True, text=True).stdout
        os.kill(int(app.split()[0]), signal.SIGTERM)
        server.wait(timeout=60)
        time.sleep(0.5)
        files = list(pathlib.Path(tmp).glob("trace*"))
        return peak_bytes(files[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sockets", type=int, default=2000)
    ap.add_argument("--hold", type=int, default=2)
    ap.add_argument("--compare-bin", help="another build's bench-server, measured the same way")
    ap.add_argument("--patched-bin", help="a bench-server built by bench/upstream/build.sh: bare, message and "
                    "handshake rows with the proposed socketioxide patches")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "socketioxide-jwt-bench"], cwd=ROOT, check=True)
    servers = [("bare", [str(BIN / "bench-server"), "--kind", "bare", "--lean"], "bare"),
               ("message", [str(BIN / "bench-server"), "--kind", "message", "--lean"], "message"),
               ("handshake", [str(BIN / "bench-server"), "--kind", "handshake", "--lean"], "handshake")]
    if args.compare_bin:
        servers += [(f"{k}-compare", [args.compare_bin, "--kind", k, "--lean"], k) for k in ["message", "handshake"]]
    if args.patched_bin:
        servers += [(f"{k}-patched", [args.patched_bin, "--kind", k, "--lean"], k) for k in ["bare", "message", "handshake"]]
    per_socket = {}
    for key, cmd, mode in servers:
        empty = run(cmd, mode, 0, 0)
        held = run(cmd, mode, args.sockets, args.hold)
        per_socket[key] = (held - empty) / args.sockets
        print(f"{key}: {per_socket[key]:.0f} B of heap per held socket", flush=True)
    for key in ["message", "handshake", "message-compare", "handshake-compare"]:
        if key in per_socket:
            print(f"{key}: {per_socket[key] - per_socket['bare']:.0f} B over bare socketioxide")
    for key in ["message-patched", "handshake-patched"]:
        if key in per_socket:
            print(f"{key}: {per_socket[key] - per_socket['bare-patched']:.0f} B over bare socketioxide with the same patches")
    print(json.dumps({"args": vars(args), "heap_bytes_per_socket": per_socket}))


if __name__ == "__main__":
    main()
