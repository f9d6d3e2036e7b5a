#!/usr/bin/env python3
"""100 000 authenticated sockets on one machine: INSTANCES bench servers (socketioxide-jwt,
message mode, lean) behind one throwaway redis-server (the Redis adapter and revocation list),
and load generator processes spread over several loopback source addresses (one address runs
out of ephemeral ports near 28 000), each under the open-file limit. Measures, in order:

1. the time until every socket is authenticated, and the total RSS (servers + Redis);
2. one `shout` from one socket, broadcast through Redis: the time until the last of the
   SOCKETS sockets heard it;
3. revoking REVOKE users at once (one `POST /revoke` on one instance; each user holds one
   socket, spread over every instance): the time until the last of them is refused;
4. with --storm, every client drops its connection at once and reconnects (at once, or after
   socket.io-client's jittered delay with --storm-delay-ms 1000): time until 99 % and 100 % are
   back, p99, peak RSS, lost.

    python3 bench/cluster.py --sockets 100000 --instances 6 --storm
    python3 bench/cluster.py --sockets 3000 --instances 3 --revoke 100 --storm --check   # smoke

Not a CI step (CI runs the smoke size). Every wait is bounded; a lost socket fails --check.
"""
import argparse, json, math, pathlib, re, shutil, socket, subprocess, sys, tempfile, threading, time, urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run as storm_bench  # noqa: E402

ROOT, BIN = storm_bench.ROOT, storm_bench.BIN
PER_PROCESS = 9000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gen:
    """One load generator process and the events it printed, read on a thread."""

    def __init__(self, cmd):
        # Not pinned: every process of the run shares the machine's cores.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
        self.events, self.refused, self.cond = {}, [], threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            e = json.loads(line)
            with self.cond:
                if e["event"] == "refused":
                    self.refused.append(e["t_ms"])
                else:
                    self.events[e["event"]] = e
                self.cond.notify_all()
        with self.cond:
            self.events["exit"] = {}
            self.cond.notify_all()

    def wait(self, event, timeout):
        with self.cond:
            self.cond.wait_for(lambda: event in self.events or "exit" in self.events, timeout)
            return self.events.get(event)

    def send(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()


def total_rss_mib(pids):
    total = 0
    for pid in pids:
        try:
            total += storm_bench.rss_kib(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sockets", type=int, default=100000)
    ap.add_argument("--instances", type=int, default=6)
    ap.add_argument("--concurrency", type=int, default=100, help="connecting at a time, per load generator process")
    ap.add_argument("--revoke", type=int, default=1000)
    ap.add_argument("--storm", action="store_true")
    ap.add_argument("--storm-delay-ms", type=int, default=0)
    ap.add_argument("--mode", default="message", choices=["message", "handshake"])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    storm_bench.raise_fd_limit(20000)
    if not shutil.which("redis-server"):
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "socketioxide-jwt-bench"], cwd=ROOT, check=True)
    procs, servers, gens = [], [], []
    tmp = tempfile.mkdtemp()
    try:
        port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                                  "--dir", tmp, "--maxclients", "1000"], stdout=subprocess.DEVNULL)
        procs.append(redis)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        url = f"redis://127.0.0.1:{port}/?protocol=resp3"
        for _ in range(args.instances):
            s = subprocess.Popen([str(BIN / "bench-server"), "--kind", args.mode, "--lean", "--redis", url],
                                 stdout=subprocess.PIPE, text=True)
            procs.append(s)
            servers.append((s, re.search(r"(http://\S+)", s.stdout.readline()).group(1)))
        pids = [p.pid for p in procs]
        time.sleep(0.5)
        rss_idle = total_rss_mib(pids)
        # Load generators: each instance gets its share, split into processes under the limit;
        # users are numbered across the run, so revoked users are spread over every instance.
        per_instance = [args.sockets // args.instances + (1 if i < args.sockets % args.instances else 0)
                        for i in range(args.instances)]
        splits = max(1, math.ceil(max(per_instance) / PER_PROCESS))
        plan = []
        for inst, n in enumerate(per_instance):
            for k in range(splits):
                plan.append((inst, n // splits + (1 if k < n % splits else 0)))
        started = time.monotonic()
        # Users interleaved across instances: generator g takes users first_g ... in blocks.
        first = 0
        for g, (inst, n) in enumerate(plan):
            cmd = [str(BIN / "loadgen"), "--url", servers[inst][1], "--mode", args.mode, "--sockets", str(n),
                   "--concurrency", str(args.concurrency), "--first-user", str(first),
                   "--source-ip", f"127.0.{1 + g // 250}.{2 + g % 250}", "--control", "--watch", "--latencies"]
            if args.storm:
                cmd += ["--storm", "--storm-delay-ms", str(args.storm_delay_ms)]
            gens.append(Gen(cmd))
            first += n
        holding = [g.wait("holding", 600) for g in gens]
        all_up_s = time.monotonic() - started
        held = sum(h["sockets"] for h in holding if h)
        time.sleep(1)
        rss_held = total_rss_mib(pids)
        row = {"sockets": args.sockets, "instances": args.instances, "held": held, "lost": args.sockets - held,
               "all_authenticated_s": all_up_s, "rss_total_mib": rss_held, "rss_idle_mib": rss_idle,
               "rss_kib_per_socket": (rss_held - rss_idle) * 1024 / max(held, 1)}
        # 2. One broadcast from one socket to everyone.
        sent = time.time() * 1000
        gens[0].send("shout")
        heard = [g.wait("all-heard", 120) for g in gens]
        row["shout_heard_by_all_processes"] = all(heard)
        if all(heard):
            row["shout_to_last_ms"] = max(h["last_ms"] for h in heard) - sent
        # 3. Revoke users 0..REVOKE-1 (one socket each, spread over the instances).
        revoke_url = f"{servers[0][1]}/revoke?first=0&count={args.revoke}"
        sent = time.time() * 1000
        answer = json.loads(urllib.request.urlopen(urllib.request.Request(revoke_url, method="POST"), timeout=60).read())
        row["revoke_answer"] = answer
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(len(g.refused) for g in gens) < args.revoke:
            time.sleep(0.05)
        refused = [t for g in gens for t in g.refused]
        row["revoked_sockets_refused"] = len(refused)
        row["revoke_to_last_refused_ms"] = (max(refused) - sent) if refused else None
        # 4. The storm (or the end of the hold).
        sampler = storm_bench.PeakRss(pids) if args.storm else None
        for g in gens:
            g.send("storm" if args.storm else "end")
        if args.storm:
            storms = [g.wait("storm-result", 300) for g in gens]
            peak_kib = sampler.stop()
            if any(s is None for s in storms):
                row["storm_incomplete"] = True
            storms = [s for s in storms if s]
            row.update({
                "storm_sockets": sum(s["sockets"] for s in storms),
                "storm_ok": sum(s["ok"] for s in storms),
                "storm_lost": sum(s["sockets"] - s["ok"] for s in storms),
                "storm_retried": sum(s["retried"] for s in storms),
                "storm_first_failure": next((s["first_failure"] for s in storms if s["first_failure"]), None),
                "storm_t99_ms": storm_bench.pct(sorted(x for s in storms for x in s["back_ms"]), 99),
                "storm_t100_ms": max(s["t100_ms"] for s in storms),
                "storm_p99_ms": max(s["p99_ms"] for s in storms),
                "storm_peak_rss_mib": peak_kib / 1024,
            })
        for g in gens:
            g.wait("exit", 300)
        results = [g.events.get("result") or {} for g in gens]
        row["connect_failures"] = [r["first_failure"] for r in results if r.get("first_failure")]
        row["connect_retried"] = sum(r.get("retried", 0) for r in results)
        row["connect_p99_ms_max_of_processes"] = max((r.get("p99_ms", 0) for r in results), default=0)
        print(json.dumps(row, indent=1), file=sys.stderr)
        line = json.dumps({"args": vars(args), "row": row})
        print(line)
        if args.out:
            pathlib.Path(args.out).write_text(line + "\n")
        lost = row["lost"] + row.get("storm_lost", 0) + (args.revoke - row["revoked_sockets_refused"])
        ok = row["shout_heard_by_all_processes"] and not row.get("storm_incomplete")
        if args.check and (lost or not ok):
            print(f"FAILED: lost {lost}, shout heard everywhere: {row['shout_heard_by_all_processes']}", file=sys.stderr)
            sys.exit(1)
    finally:
        for g in gens:
            if g.proc.poll() is None:
                g.proc.kill()
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
