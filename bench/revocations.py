#!/usr/bin/env python3
"""Revocations at scale, against a throwaway redis-server (release build of revocation-bench):

- load: N stored revocations (sessions, users and tokens, a third each; default 1 000 000), the
  time a new process takes to load them and the heap bytes each costs once held;
- burst: M revocations (default 100 000) made as fast as one process can, with 3 processes on
  the same Redis; the time until the last one is applied everywhere, and that none was lost.

    python3 bench/revocations.py [--stored 1000000] [--burst 100000] [--instances 3]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis():
    port = free_port()
    work = tempfile.mkdtemp(prefix="revocation-bench-")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.time() > deadline:
                sys.exit("redis-server did not start")
            time.sleep(0.05)
    return proc, port, work


def resp(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def shard_of(field):
    """The hash a field lives in: FNV-1a 64 modulo 16, as the library picks it."""
    h = 0xCBF29CE484222325
    for b in field.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h % 16


def fill(port, n):
    """Stores n revocations as the library stores them (its hash, field and JSON formats)."""
    until = int(time.time()) + 3600
    chunks = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            field, value = f"sid:s-{i}", {"kind": "session", "sid": f"s-{i}", "until": until}
        elif kind == 1:
            field, value = f"sub:u-{i}", {"kind": "user", "sub": f"u-{i}", "issued_before": until - 3600, "until": until}
        else:
            field, value = f"jti:{i:036d}", {"kind": "token", "jti": f"{i:036d}", "until": until}
        chunks.append(resp("HSET", f"socketioxide-jwt:revoked:all:{shard_of(field)}", field, json.dumps(value, separators=(",", ":"))))
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=b"".join(chunks), check=True, stdout=subprocess.DEVNULL)


def bench(port, *args):
    binary = os.path.join(ROOT, "target", "release", "revocation-bench")
    out = subprocess.run([binary, "--redis", f"redis://127.0.0.1:{port}/?protocol=resp3", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stored", type=int, default=1_000_000)
    p.add_argument("--burst", type=int, default=100_000)
    p.add_argument("--instances", type=int, default=3)
    args = p.parse_args()
    for tool in ("redis-server", "redis-cli", "cargo"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is required")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "socketioxide-jwt-bench", "--bin", "revocation-bench"], cwd=ROOT, check=True)

    redis, port, work = start_redis()
    try:
        fill(port, args.stored)
        load = bench(port, "load")
        assert load["stored"] == args.stored, load
        subprocess.run(["redis-cli", "-p", str(port), "FLUSHALL"], check=True, stdout=subprocess.DEVNULL)
        burst = bench(port, "burst", "--count", str(args.burst), "--instances", str(args.instances))
        assert burst["failed_sends"] == 0, burst
    finally:
        redis.kill()
        redis.wait()
        shutil.rmtree(work, ignore_errors=True)

    print("| measure | value |")
    print("| --- | --- |")
    print(f"| {load['stored']:,} stored revocations loaded by a new process | {load['load_ms'] / 1000:.2f} s |")
    print(f"| heap per held revocation | {load['heap_bytes_per_entry']:.0f} bytes |")
    print(f"| burst of {burst['count']:,} on one of {burst['instances']} processes: sent | {burst['sent_ms'] / 1000:.2f} s |")
    print(f"| ... the last applied on every process | {burst['last_applied_everywhere_ms'] / 1000:.2f} s (none lost) |")


if __name__ == "__main__":
    main()
