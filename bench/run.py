#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ursock benchmarks: ursock against blocking, epoll, raw liburing (and nginx for HTTP),
doing the same work, side by side, interleaved (A B C A B C ...), at least 3 runs a point
(1 with --quick), medians with min-max. Servers are pinned to CPU 0, load generators to
CPU 1. A run perturbed by steal or foreign CPU (read from /proc/stat) is discarded and
repeated. Says as it goes which run of how many it is on, the time spent and the time left.
Writes OUT/report.md, OUT/results.json and PNG plots (OUT is build/bench-report unless
given; `make bench-report` writes the committed bench/report/); prints the tables.

The figure that separates servers on 2 cores is server CPU time per message/request (the
load generator saturates its own core first), with syscalls per message; rates and
latencies are reported beside it."""
import argparse, json, os, platform, re, signal, statistics, subprocess, sys, tempfile, time

HZ = os.sysconf("SC_CLK_TCK")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def proc_cpu_ticks(pid):
    """user+system ticks of a process, all threads (and its reaped children)."""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    except OSError:
        return 0


def tree_cpu(pids):
    return sum(proc_cpu_ticks(p) for p in pids)


def rss_kib(pids):
    total = 0
    for p in pids:
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_snapshot():
    """(busy, steal) jiffies summed over all CPUs."""
    f = open("/proc/stat").readline().split()[1:]
    v = [int(x) for x in f]
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    return user + nice + system + irq + softirq, steal


class Server:
    """A server process; env adds to the environment (URSOCK_BACKEND, URSOCK_DISABLE)."""

    def __init__(self, name, cmd, pin="0", env=None):
        self.name, self.cmd = name, cmd
        self.proc = subprocess.Popen(["taskset", "-c", pin] + cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                     env=dict(os.environ, **(env or {})))
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError(f"{name}: no 'listening on' line: {line!r} {self.proc.stderr.read()}")
        self.port = int(line.rsplit(":", 1)[1])
        self.pids = [self.proc.pid]

    def all_pids(self):
        return self.pids

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        m = re.search(r"syscalls (\d+)", err or "")
        return int(m.group(1)) if m else None


class Nginx(Server):
    """nginx from Debian: one worker, access log off, the same fixed response."""

    def __init__(self, port_hint, pin="0", root=None):
        self.name = "nginx"
        self.dir = tempfile.mkdtemp(prefix="ursock-nginx-")
        self.port = port_hint
        # The fixed response, or (root) the files under root with sendfile, as http_echo -d.
        location = (f"root {root}; sendfile on; tcp_nopush on;" if root else
                    'default_type text/plain; add_header Server ursock; return 200 "Hello from ursock\\n";')
        conf = f"""worker_processes 1; daemon off; pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log; events {{ worker_connections 8192; }}
http {{ access_log off; keepalive_requests 10000; client_body_temp_path {self.dir};
  proxy_temp_path {self.dir}; fastcgi_temp_path {self.dir}; uwsgi_temp_path {self.dir};
  scgi_temp_path {self.dir};
  server {{ listen 127.0.0.1:{self.port} reuseport; location / {{ {location} }} }} }}
"""
        open(f"{self.dir}/nginx.conf", "w").write(conf)
        self.proc = subprocess.Popen(["taskset", "-c", pin, "nginx", "-c", f"{self.dir}/nginx.conf",
                                      "-p", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            time.sleep(0.05)
            kids = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                                  text=True).stdout.split()
            if kids:
                break
        self.pids = [self.proc.pid] + [int(k) for k in kids]

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        subprocess.run(["rm", "-rf", self.dir])
        return None


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def run_client(cmd, pin="1"):
    """Runs a load generator pinned to CPU 1; returns (stdout, its cpu seconds)."""
    p = subprocess.Popen(["taskset", "-c", pin] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=ROOT)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = status
    return out, ru.ru_utime + ru.ru_stime


def clock(seconds):
    seconds = int(max(seconds, 0))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """Run k of N, time spent, time left. Each run has a nominal length (its load time plus
    set-up); the time left is the nominal time still to come, scaled by how long the runs so
    far took against their nominal length."""

    def __init__(self, plan):
        self.total = sum(n for n, _ in plan.values())
        self.nominal_left = sum(n * secs for n, secs in plan.values())
        self.nominal_done = 0.0
        self.done = 0
        self.t0 = time.time()

    def start(self, label):
        elapsed = time.time() - self.t0
        scale = elapsed / self.nominal_done if self.nominal_done else 1.0
        print(f"[run {self.done + 1} of {self.total}, {clock(elapsed)} elapsed, about "
              f"{clock(self.nominal_left * scale)} left] {label}", flush=True)

    def finish(self, nominal):
        self.done += 1
        self.nominal_done += nominal
        self.nominal_left = max(self.nominal_left - nominal, 0.0)

    def repeat(self, nominal, why):
        """A perturbed run is done again: one more run to go."""
        self.total += 1
        self.nominal_left += nominal
        print(f"  discarded ({why}); repeating it", flush=True)


class Bench:
    def __init__(self, args):
        self.args, self.b = args, args.build
        self.quick = args.quick
        self.reps = 1 if self.quick else 3
        self.secs = 1.0 if self.quick else 3.0
        self.discarded = 0
        self.results = {"echo": [], "stream": [], "idle": [], "http": [], "paced": [], "file": [],
                        "micro": {}, "threads": [], "features": {}, "memory": {}, "sendpool": {}}
        self.echo_sizes = [64] if self.quick else [64, 4096]
        self.echo_conns = [64, 512] if self.quick else [1, 64, 512, 4096]
        self.http_conns = [64] if self.quick else [64, 256, 1024]
        self.idle_conns = 1000 if self.quick else 19000
        self.micro_min_time = 0.05 if self.quick else 0.3

    def plan(self, parts):
        """{part: (runs, nominal seconds per run)} for the parts to run."""
        per_run = self.secs + 0.5  # a server started, loaded for secs, stopped
        servers = len(self.echo_servers())
        plan = {
            "echo": (len(self.echo_sizes) * len(self.echo_conns) * self.reps * servers, per_run),
            "paced": (self.reps * servers, per_run),
            "stream": (self.reps * servers, per_run),
            # blocking sits this one out; connecting, holding 3 s, measuring
            "idle": (self.reps * (servers - 1), 4.5 + self.idle_conns / 5000),
            "http": ((len(self.http_conns) + 1) * self.reps * len(self.http_servers()), per_run),
            "threads": (self.reps * len(self.thread_servers()), per_run),
            "features": (self.reps * len(self.feature_sets()), per_run),
            "memory": (self.reps * 2, 2.5),
            "sendpool": (max(self.reps, 3) * len(self.sendpool_servers()) * 4, per_run),
            "file": (self.reps * 2, per_run),
            # 7 benchmarks, each run until it has min_time of samples (a few tries)
            "micro": (2, 7 * 3 * self.micro_min_time + 0.5),
        }
        return {p: plan[p] for p in parts}

    def run_started(self, label):
        self.progress.start(label)

    def run_done(self, part):
        self.progress.finish(self.nominal[part])

    def echo_servers(self):
        """name -> (command, environment). ursock-epoll is the same stream_echo on ursock's
        epoll backend (URSOCK_BACKEND=epoll)."""
        se = [f"{self.b}/examples/stream_echo", "127.0.0.1:0"]
        return {
            "ursock": (se, None),
            "ursock-epoll": (se, {"URSOCK_BACKEND": "epoll"}),
            "epoll": ([f"{self.b}/bench/epoll_server", "127.0.0.1:0"], None),
            "raw-uring": ([f"{self.b}/bench/uring_echo", "127.0.0.1:0"], None),
            "libuv": ([f"{self.b}/bench/libuv_server", "127.0.0.1:0"], None),
            "blocking": ([f"{self.b}/bench/blocking_server", "127.0.0.1:0"], None),
        }

    def measured(self, part, label, start_server, client_cmd_of, parse):
        """One clean run: start, load, stop. Repeats a run perturbed by steal/foreign CPU."""
        self.run_started(label)
        for attempt in range(3):
            srv = start_server()
            time.sleep(0.2)
            c0, (b0, s0), t0 = tree_cpu(srv.all_pids()), cpu_snapshot(), time.time()
            out, client_cpu = run_client(client_cmd_of(srv))
            c1, (b1, s1), t1 = tree_cpu(srv.all_pids()), cpu_snapshot(), time.time()
            sys_calls = srv.stop()
            wall = max(t1 - t0, 1e-3)
            server_cpu = (c1 - c0) / HZ
            steal = (s1 - s0) / HZ / wall / 2
            foreign = max(0.0, (b1 - b0) / HZ - server_cpu - client_cpu) / wall / 2
            r = parse(out)
            if r is None:
                raise RuntimeError(f"{srv.name}: no result from the client: {out!r}")
            r.update(server_cpu=server_cpu, client_cpu=client_cpu, steal=steal, foreign=foreign,
                     syscalls=sys_calls)
            if (steal > 0.05 or foreign > 0.10) and attempt < 2:
                self.discarded += 1
                self.progress.repeat(self.nominal[part], f"steal {steal:.0%}, other processes {foreign:.0%} of the CPUs")
                self.run_done(part)
                self.run_started(label + " (again)")
                continue
            self.run_done(part)
            return r

    def echo(self):
        for size in self.echo_sizes:
            for nc in self.echo_conns:
                runs = {}
                for rep in range(self.reps):
                    for name, (cmd, env) in self.echo_servers().items():
                        r = self.measured(
                            "echo", f"echo {size} B x {nc} conns: {name}, run {rep + 1} of {self.reps}",
                            lambda: Server(name, cmd, env=env),
                            lambda s: [f"{self.b}/bench/echo_client", "--addr", f"127.0.0.1:{s.port}",
                                       "-c", str(nc), "-s", str(size), "-d", str(self.secs)],
                            lambda out: json.loads(out.strip().splitlines()[-1]) if out.strip() else None)
                        r["cpu_us_per_msg"] = r["server_cpu"] * 1e6 / max(r["msgs"], 1)
                        r["syscalls_per_msg"] = (r["syscalls"] / max(r["msgs"], 1)) if r["syscalls"] else None
                        runs.setdefault(name, []).append(r)
                        print(f"  echo {size:5d} B x {nc:4d} conns  {name:10s} {r['rate']:10.0f} msg/s  "
                              f"{r['cpu_us_per_msg']:6.2f} us CPU/msg  p99 {r['p99_us']:7.0f} us", flush=True)
                self.results["echo"].append({"size": size, "conns": nc, "runs": runs})

    def stream(self):
        runs = {}
        for rep in range(self.reps):
            for name, (cmd, env) in self.echo_servers().items():
                r = self.measured("stream", f"streaming: {name}, run {rep + 1} of {self.reps}",
                                  lambda: Server(name, cmd, env=env),
                                  lambda s: [f"{self.b}/bench/echo_client", "--addr", f"127.0.0.1:{s.port}",
                                             "--mode", "stream", "-d", str(self.secs)],
                                  lambda out: json.loads(out.strip().splitlines()[-1]))
                runs.setdefault(name, []).append(r)
                print(f"  stream 64 KiB writes  {name:10s} {r['bytes_per_s'] / 1e9:6.3f} GB/s", flush=True)
        self.results["stream"] = runs

    def idle(self):
        n = self.idle_conns
        runs = {}
        for rep in range(self.reps):
            for name, (cmd, env) in self.echo_servers().items():
                if name == "blocking":
                    continue  # a thread per idle connection: not a contender here
                self.run_started(f"{n} idle connections: {name}, run {rep + 1} of {self.reps}")
                srv = Server(name, cmd, env=env)
                time.sleep(0.2)
                before = rss_kib(srv.all_pids())
                p = subprocess.Popen(["taskset", "-c", "1", f"{self.b}/bench/echo_client", "--addr",
                                      f"127.0.0.1:{srv.port}", "--mode", "idle", "-c", str(n), "-s", "16",
                                      "-d", "60", "--hold", "3"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
                line = p.stdout.readline()
                time.sleep(1.0)
                after = rss_kib(srv.all_pids())
                p.wait()
                srv.stop()
                info = json.loads(line) if line.strip() else {"conns": 0, "pinged": 0}
                conns = info["conns"] or 1
                r = {"conns": info["conns"], "rss_before_kib": before, "rss_after_kib": after,
                     "bytes_per_conn": (after - before) * 1024 / conns}
                runs.setdefault(name, []).append(r)
                self.run_done("idle")
                print(f"  idle {info['conns']} conns  {name:10s} {r['bytes_per_conn']:8.0f} B/conn (user-space RSS)",
                      flush=True)
        self.results["idle"] = runs

    def http_servers(self):
        return {
            "ursock": lambda: Server("ursock", [f"{self.b}/examples/http_echo", "127.0.0.1:0"]),
            "ursock-epoll": lambda: Server("ursock-epoll", [f"{self.b}/examples/http_echo", "127.0.0.1:0"],
                                           env={"URSOCK_BACKEND": "epoll"}),
            "epoll": lambda: Server("epoll", [f"{self.b}/bench/epoll_server", "127.0.0.1:0", "--http"]),
            "libuv": lambda: Server("libuv", [f"{self.b}/bench/libuv_server", "127.0.0.1:0", "--http"]),
            "blocking": lambda: Server("blocking", [f"{self.b}/bench/blocking_server", "127.0.0.1:0", "--http"]),
            "nginx": lambda: Nginx(free_port()),
        }

    @staticmethod
    def parse_wrk(out):
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        n = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
        if not m or not n:
            return None
        def us(tag):
            mm = re.search(rf"^\s+{tag}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
            if not mm:
                return None
            return float(mm.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[mm.group(2)]
        err = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        p50, p99 = us("50"), us("99")
        # With pipelined requests wrk's percentiles can come out as 0 or below its own p50:
        # not a latency, so none is recorded.
        if p99 is not None and (p99 <= 0 or (p50 is not None and p99 < p50)):
            p99 = None
        return {"rate": float(m.group(1)), "msgs": int(n.group(1)), "p50_us": p50, "p99_us": p99,
                "socket_errors": sum(int(x) for x in err.groups()) if err else 0,
                "non2xx": bool(re.search(r"Non-2xx", out))}

    def http(self):
        lua = os.path.join(ROOT, "bench", "pipeline.lua")
        modes = [("plain", c) for c in self.http_conns] + [("pipelined16", 256 if not self.quick else 64)]
        for mode, nc in modes:
            runs = {}
            for rep in range(self.reps):
                for name, start in self.http_servers().items():
                    cmd = lambda s: (["wrk", "-t1", f"-c{nc}", f"-d{int(self.secs)}s", "--latency", "--timeout", "5s"]
                                     + (["-s", lua] if mode != "plain" else [])
                                     + [f"http://127.0.0.1:{s.port}/"])
                    r = self.measured("http", f"HTTP {mode} x {nc} conns: {name}, run {rep + 1} of {self.reps}",
                                      start, cmd, self.parse_wrk)
                    r["cpu_us_per_req"] = r["server_cpu"] * 1e6 / max(r["msgs"], 1)
                    runs.setdefault(name, []).append(r)
                    print(f"  http {mode:11s} {nc:4d} conns  {name:9s} {r['rate']:10.0f} req/s  "
                          f"{r['cpu_us_per_req']:6.2f} us CPU/req  errors {r['socket_errors']}", flush=True)
            self.results["http"].append({"mode": mode, "conns": nc, "runs": runs})

    def file(self):
        """A 1 MiB file over loopback: http_echo -d (urs_sendfile) against nginx (sendfile on),
        both serving the same file from the same directory; wrk, 64 connections."""
        root = tempfile.mkdtemp(prefix="ursock-files-")
        with open(os.path.join(root, "1m.bin"), "wb") as f:
            f.write(os.urandom(1 << 20))
        # nginx's worker is not root: it must be able to read them (mkdtemp makes 0700).
        os.chmod(root, 0o755)
        os.chmod(os.path.join(root, "1m.bin"), 0o644)
        nc = 64
        servers = {
            "ursock": lambda: Server("ursock", [f"{self.b}/examples/http_echo", "127.0.0.1:0", "-d", root]),
            "nginx": lambda: Nginx(free_port(), root=root),
        }
        runs = {}
        try:
            for rep in range(self.reps):
                for name, start in servers.items():
                    cmd = lambda s: (["wrk", "-t1", f"-c{nc}", f"-d{int(self.secs)}s", "--latency",
                                      "--timeout", "5s", f"http://127.0.0.1:{s.port}/1m.bin"])
                    r = self.measured("file", f"1 MiB file x {nc} conns: {name}, run {rep + 1} of {self.reps}",
                                      start, cmd, self.parse_wrk)
                    r["cpu_us_per_req"] = r["server_cpu"] * 1e6 / max(r["msgs"], 1)
                    if r.get("non2xx"):
                        raise RuntimeError(f"{name}: answered the file with errors (not 2xx)")
                    r["mib_per_s"] = r["rate"]  # one MiB per request
                    runs.setdefault(name, []).append(r)
                    print(f"  file 1 MiB {nc:4d} conns  {name:9s} {r['rate']:8.0f} req/s (MiB/s)  "
                          f"{r['cpu_us_per_req']:8.1f} us CPU/req  errors {r['socket_errors']}", flush=True)
        finally:
            subprocess.run(["rm", "-rf", root])
        self.results["file"].append({"conns": nc, "runs": runs})

    def paced(self):
        """Latency at equal offered load: about half of epoll's peak at 64 connections."""
        peak = None
        for p in self.results["echo"]:
            if p["size"] == 64 and p["conns"] == 64:
                peak = statistics.median(r["rate"] for r in p["runs"]["epoll"])
        rate = int((peak or 60000) / 2)
        runs = {}
        for rep in range(self.reps):
            for name, (cmd, env) in self.echo_servers().items():
                r = self.measured("paced", f"paced {rate} msg/s x 64 conns: {name}, run {rep + 1} of {self.reps}",
                                  lambda: Server(name, cmd, env=env),
                                  lambda s: [f"{self.b}/bench/echo_client", "--addr", f"127.0.0.1:{s.port}",
                                             "--mode", "rate", "--rate", str(rate), "-c", "64", "-s", "64",
                                             "-d", str(self.secs)],
                                  lambda out: json.loads(out.strip().splitlines()[-1]))
                r["cpu_us_per_msg"] = r["server_cpu"] * 1e6 / max(r["msgs"], 1)
                runs.setdefault(name, []).append(r)
                print(f"  paced {rate} msg/s x 64 conns  {name:10s} p50 {r['p50_us']:7.0f} us  p99 {r['p99_us']:7.0f} us",
                      flush=True)
        self.results["paced"] = {"rate": rate, "runs": runs}

    def thread_servers(self):
        """HTTP with one and two threads. Servers may use both CPUs here, and wrk runs on CPU 1:
        with -t 2 the client shares a core with one of the server's threads."""
        he, ep = f"{self.b}/examples/http_echo", f"{self.b}/bench/epoll_server"
        return {
            "ursock -t1": [he, "127.0.0.1:0", "-t", "1"],
            "ursock -t2": [he, "127.0.0.1:0", "-t", "2"],
            "epoll -t1": [ep, "127.0.0.1:0", "--http", "-t", "1"],
            "epoll -t2": [ep, "127.0.0.1:0", "--http", "-t", "2"],
        }

    def threads(self):
        nc = 256 if not self.quick else 64
        runs = {}
        for rep in range(self.reps):
            for name, cmd in self.thread_servers().items():
                cmd_of = lambda s: ["wrk", "-t1", f"-c{nc}", f"-d{int(self.secs)}s", "--latency", "--timeout", "5s",
                                    f"http://127.0.0.1:{s.port}/"]
                r = self.measured("threads", f"HTTP {nc} conns, {name} (servers on CPUs 0-1), run {rep + 1} of {self.reps}",
                                  lambda: Server(name, cmd, pin="0,1"), cmd_of, self.parse_wrk)
                r["cpu_us_per_req"] = r["server_cpu"] * 1e6 / max(r["msgs"], 1)
                runs.setdefault(name, []).append(r)
                print(f"  http threads {nc} conns  {name:11s} {r['rate']:10.0f} req/s  "
                      f"{r['cpu_us_per_req']:6.2f} us CPU/req", flush=True)
        self.results["threads"] = [{"conns": nc, "runs": runs}]

    def feature_sets(self):
        """stream_echo with one io_uring feature off at a time (URSOCK_DISABLE), beside all on."""
        return {
            "all on": "",
            "no fixed_files": "fixed_files",
            "no recv_multi": "recv_multi",
            "no buf_ring": "buf_ring",
            "no buf_inc (incremental)": "buf_inc",
            "no recv_bundle (bundles)": "recv_bundle",
            "no min_wait (batched waits)": "min_wait",
            "no defer_taskrun": "defer_taskrun,single_issuer",
            # stream_echo forwards receive buffers; these copy into the send pool instead, so
            # that its switches have something to turn off: compare them with each other.
            "send pool": ("", {"URS_ECHO_SEND": "pool"}),
            "send pool, no send_bufs (registered send buffers)": ("send_bufs", {"URS_ECHO_SEND": "pool"}),
            "send pool, zero-copy forced": ("", {"URS_ECHO_SEND": "pool", "URS_ZC_THRESHOLD": "1"}),
            "send pool, zero-copy forced, no send_zc": ("send_zc", {"URS_ECHO_SEND": "pool", "URS_ZC_THRESHOLD": "1"}),
        }

    def features(self):
        """What each feature buys: echo 64 B x 512 connections, CPU per message."""
        nc = 512 if not self.quick else 64
        runs = {}
        se = [f"{self.b}/examples/stream_echo", "127.0.0.1:0"]
        for rep in range(self.reps):
            for name, off in self.feature_sets().items():
                extra = {}
                if isinstance(off, tuple):
                    off, extra = off
                env = dict(extra)
                if off:
                    env["URSOCK_DISABLE"] = off
                env = env or None
                r = self.measured("features", f"echo 64 B x {nc}, ursock {name}, run {rep + 1} of {self.reps}",
                                  lambda: Server(name, se, env=env),
                                  lambda s: [f"{self.b}/bench/echo_client", "--addr", f"127.0.0.1:{s.port}",
                                             "-c", str(nc), "-s", "64", "-d", str(self.secs)],
                                  lambda out: json.loads(out.strip().splitlines()[-1]) if out.strip() else None)
                r["cpu_us_per_msg"] = r["server_cpu"] * 1e6 / max(r["msgs"], 1)
                r["syscalls_per_msg"] = (r["syscalls"] / max(r["msgs"], 1)) if r["syscalls"] else None
                runs.setdefault(name, []).append(r)
                print(f"  features {name:28s} {r['cpu_us_per_msg']:6.2f} us CPU/msg  "
                      f"{fmt(r['syscalls_per_msg'], 3)} syscalls/msg", flush=True)
        self.results["features"] = {"conns": nc, "runs": runs}

    def sendpool_servers(self):
        """stream_echo forwarding each received buffer (its default), and copying it into a
        registered send buffer with zero-copy off and forced on (URS_ZC_THRESHOLD)."""
        return {
            "forward receive buffer": {},
            "send pool, zero-copy off": {"URS_ECHO_SEND": "pool", "URS_ZC_THRESHOLD": "4294967295"},
            "send pool, zero-copy forced": {"URS_ECHO_SEND": "pool", "URS_ZC_THRESHOLD": "1"},
        }

    def sendpool(self):
        """Where zero-copy from registered send buffers starts to pay: streaming 64 KiB writes
        and echo 4 KiB x 64 connections, each way of sending interleaved, three runs even when
        quick (the difference is small beside the noise of one run)."""
        se = [f"{self.b}/examples/stream_echo", "127.0.0.1:0"]
        loads = {
            "stream 64 KiB writes": (["--mode", "stream"], "bytes_per_s"),
            "echo 4 KiB x 64": (["-c", "64", "-s", "4096"], "cpu_us_per_msg"),
            "echo 8 KiB x 64": (["-c", "64", "-s", "8192"], "cpu_us_per_msg"),
            "echo 16 KiB x 64": (["-c", "64", "-s", "16384"], "cpu_us_per_msg"),
        }
        res = {}
        for rep in range(max(self.reps, 3)):
            for load, (args, key) in loads.items():
                for name, env in self.sendpool_servers().items():
                    r = self.measured("sendpool", f"send pool: {load}, {name}, run {rep + 1}",
                                      lambda: Server(name, se, env=env),
                                      lambda s: [f"{self.b}/bench/echo_client", "--addr", f"127.0.0.1:{s.port}",
                                                 *args, "-d", str(self.secs)],
                                      lambda out: json.loads(out.strip().splitlines()[-1]) if out.strip() else None)
                    if "msgs" in r:
                        r["cpu_us_per_msg"] = r["server_cpu"] * 1e6 / max(r["msgs"], 1)
                    if "bytes_per_s" in r:
                        r["cpu_ns_per_kib"] = r["server_cpu"] * 1e9 / max(r["bytes_per_s"] * self.secs / 1024, 1)
                    res.setdefault(load, {}).setdefault(name, []).append(r)
                    print(f"  send pool {load:22s} {name:28s} " +
                          (f"{r['bytes_per_s'] / 1e9:6.3f} GB/s {r['cpu_ns_per_kib']:7.1f} ns CPU/KiB"
                           if key == "bytes_per_s" else
                           f"{r.get('rate', 0):10.0f} msg/s {r['cpu_us_per_msg']:6.2f} us CPU/msg"), flush=True)
        self.results["sendpool"] = res

    def memory(self):
        """RSS of a default loop (bench/loop_rss) and of an idle http_echo -t 2."""
        runs = {}
        for rep in range(self.reps):
            self.run_started(f"memory: a default loop, run {rep + 1} of {self.reps}")
            out = subprocess.run([f"{self.b}/bench/loop_rss"], capture_output=True, text=True, cwd=ROOT).stdout
            runs.setdefault("loop", []).append(json.loads(out.strip().splitlines()[-1]))
            self.run_done("memory")
            self.run_started(f"memory: idle http_echo -t 2, run {rep + 1} of {self.reps}")
            srv = Server("http_echo -t2", [f"{self.b}/examples/http_echo", "127.0.0.1:0", "-t", "2"], pin="0,1")
            time.sleep(1.0)
            runs.setdefault("http_echo_t2", []).append({"rss_kib": rss_kib(srv.all_pids())})
            srv.stop()
            self.run_done("memory")
        r = runs["loop"]
        print(f"  memory: default loop {mm(r, 'loop_kib', 0)} KiB RSS; idle http_echo -t 2 "
              f"{mm(runs['http_echo_t2'], 'rss_kib', 0)} KiB", flush=True)
        self.results["memory"] = runs

    def micro(self):
        for alloc in ("sys", "jemalloc"):
            self.run_started(f"Google Benchmark harness, {'system malloc' if alloc == 'sys' else 'jemalloc'}")
            out = subprocess.run(["taskset", "-c", "0", f"{self.b}/bench/micro_{alloc}", "--benchmark_format=json",
                                  f"--benchmark_min_time={self.micro_min_time}"],
                                 capture_output=True, text=True, cwd=ROOT).stdout
            data = json.loads(out)
            self.results["micro"][alloc] = {b["name"]: b["real_time"] for b in data["benchmarks"]}
            self.results["micro"]["time_unit"] = data["benchmarks"][0]["time_unit"]
            # "debug" when the library was built without NDEBUG (Debian's is): the
            # console output then warns "Library was built as DEBUG".
            self.results["micro"]["library_build_type"] = data["context"].get("library_build_type", "?")
            self.results["micro"]["harness_ndebug"] = True  # the Makefile builds micro.cc -DNDEBUG
            self.run_done("micro")
        print("  micro: " + ", ".join(f"{k} {v:.0f}" for k, v in self.results["micro"]["sys"].items()), flush=True)


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


def fmt(v, nd=2):
    return "-" if v is None else f"{v:.{nd}f}"


def mm(runs, key, nd=2, scale=1.0):
    m, lo, hi = med(runs, key)
    if m is None:
        return "-"
    return f"{m * scale:.{nd}f} ({lo * scale:.{nd}f}-{hi * scale:.{nd}f})"


def ratio(a_runs, b_runs, key):
    a, b = med(a_runs, key)[0], med(b_runs, key)[0]
    return a / b if a and b else None


def ratio_row(runs, key, label):
    """A table row of ursock's median over every other server's, within this run."""
    rs = ", ".join(f"ursock/{n} {fmt(ratio(runs['ursock'], runs[n], key))}" for n in runs if n != "ursock")
    return f"| | | {label} ratios | {rs} | | | | |"


def machine(build):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    version, feats = "?", "?"
    try:  # "0.1.0 single_issuer defer_taskrun ..."
        out = subprocess.run([f"{build}/bench/features"], capture_output=True, text=True, timeout=60,
                             cwd=ROOT).stdout.split(maxsplit=1)
        version, feats = out[0], out[1].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        pass
    return {"kernel": platform.release(), "cpu": cpu, "cores": os.cpu_count(), "features": feats,
            "ursock": version, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


# One colour and one point shape per server, the same in every plot.
STYLE = {
    "ursock": ("#d62728", 7),     # red, filled circle
    "epoll": ("#1f77b4", 5),      # blue, filled square
    "raw-uring": ("#2ca02c", 9),  # green, filled triangle
    "blocking": ("#7f7f7f", 13),  # grey, filled diamond
    "nginx": ("#9467bd", 11),     # purple, filled triangle down
    "ursock-epoll": ("#ff7f0e", 6),  # orange, open circle
    "libuv": ("#8c564b", 4),      # brown, open square
}


def gnuplot(out, fname, title, ylabel, rows, key, scale=1.0):
    """One PNG: per server, the median of key at each x (connections) as a marked point with
    an error bar from the lowest to the highest run. Points only: there is no data between
    two connection counts. The y axis turns logarithmic when the values span a decade or
    more. rows: [(x, {server: runs})]. Returns [fname], or [] when nothing was plotted."""
    names = [n for n in STYLE if any(n in runs for _, runs in rows)]
    series, values = {}, []
    for n in names:
        pts = []
        for x, runs in rows:
            m, lo, hi = med(runs.get(n, []), key)
            if m is not None:
                pts.append((x, m * scale, lo * scale, hi * scale))
                values += [m * scale, lo * scale, hi * scale]
        if pts:
            series[n] = pts
    positive = [v for v in values if v > 0]
    if not positive:
        return []
    logy = max(positive) / min(positive) >= 10
    xs = sorted({x for pts in series.values() for x, *_ in pts})
    cmds, files = [], []
    for i, (n, pts) in enumerate(series.items()):
        dat = os.path.join(out, f"{fname}.{i}.dat")
        files.append(dat)
        # nudge each server sideways (a fraction of an octave) so bars do not hide each other
        shift = 2 ** ((i - (len(series) - 1) / 2) * 0.07)
        with open(dat, "w") as f:
            for x, m, lo, hi in pts:
                if not logy or lo > 0:
                    f.write(f"{x * shift} {m} {lo} {hi}\n")
        colour, shape = STYLE[n]
        # the bars without a key entry, then the points with one (the key shows the mark only)
        cmds.append(f"'{dat}' using 1:2:3:4 with yerrorbars lc rgb '{colour}' pt {shape} ps 1.4 lw 1.5 notitle, "
                    f"'{dat}' using 1:2 with points lc rgb '{colour}' pt {shape} ps 1.4 title '{n}'")
    xtics = ", ".join(f'"{x:,}" {x}' for x in xs)
    script = (f"set terminal pngcairo size 900,560 font ',11'; set encoding utf8;"
              f"set output '{os.path.join(out, fname)}';"
              f"set title \"{title}\\n{{/*0.8 points: median of the runs; bars: lowest to highest run}}\";"
              f"set xlabel 'concurrent connections (log scale)'; set ylabel \"{ylabel}{', log scale' if logy else ''}\";"
              f"set logscale x 2; set xtics ({xtics}); set xrange [{xs[0] / 1.6}:{xs[-1] * 1.6}];"
              + ("set logscale y 10; set format y '%g';" if logy else "set yrange [0:*];")
              + "set key outside right top; set grid ytics; set bars small;"
              + f"plot {', '.join(cmds)}")
    r = subprocess.run(["gnuplot", "-e", script], capture_output=True, text=True)
    for dat in files:
        os.unlink(dat)
    if r.returncode or not os.path.exists(os.path.join(out, fname)):
        print(f"  gnuplot failed for {fname}: {r.stderr.strip()}", flush=True)
        return []
    return [fname]


# What each plot shows, for the report's captions.
PLOT_CAPTIONS = {}


def plots(res, out):
    """PNG plots through gnuplot, against connections: echo (64 B) rate, server CPU per
    message, syscalls per message, p99 latency; HTTP rate, server CPU per request, p99."""
    if subprocess.run(["which", "gnuplot"], capture_output=True).returncode:
        return []
    made = []

    def plot(fname, caption, *a, **kw):
        got = gnuplot(out, fname, *a, **kw)
        if got:
            PLOT_CAPTIONS[fname] = caption
        return got

    pts = [(p["conns"], p["runs"]) for p in res["echo"] if p["size"] == 64]
    if pts:
        made += plot("echo_rate.png", "Echo, 64 B messages, one in flight per connection: messages answered per second.",
                     "Echo, 64 B ping-pong: rate", "messages per second", pts, "rate")
        made += plot("echo_cpu.png", "Echo, 64 B: the server's CPU time (user + system) per message answered; lower is better. "
                     "On 2 cores this, not the rate, separates the servers.",
                     "Echo, 64 B: server CPU time per message", "server CPU time per message (µs)", pts,
                     "cpu_us_per_msg")
        made += plot("echo_syscalls.png", "Echo, 64 B: system calls per message (io_uring_enter for ursock and raw "
                     "liburing; epoll_wait, read, write, accept for the others), as the servers count them.",
                     "Echo, 64 B: system calls per message", "system calls per message", pts, "syscalls_per_msg")
        made += plot("echo_p99.png", "Echo, 64 B: 99th percentile round-trip latency seen by the client, at full load.",
                     "Echo, 64 B: p99 latency", "p99 round-trip latency (µs)", pts, "p99_us")
    hp = [(p["conns"], p["runs"]) for p in res["http"] if p["mode"] == "plain"]
    if hp:
        made += plot("http_rate.png", "HTTP/1.1, one request in flight per connection (wrk): requests per second.",
                     "HTTP: rate", "requests per second", hp, "rate")
        made += plot("http_cpu.png", "HTTP: the server's CPU time per request; lower is better.",
                     "HTTP: server CPU time per request", "server CPU time per request (µs)", hp, "cpu_us_per_req")
        made += plot("http_p99.png", "HTTP: 99th percentile latency as wrk measures it.",
                     "HTTP: p99 latency", "p99 latency (µs)", hp, "p99_us")
    return made


def targets(res):
    """The issues' targets (16: engine cost and memory; 11: the epoll backend), each met or
    not, from the medians of this run. Ratios are ursock's figure over the other server's,
    measured side by side in this run."""
    rows = []

    def echo_pt(size, nc):
        return next((p["runs"] for p in res["echo"] if p["size"] == size and p["conns"] == nc), None)

    def http_pt(mode, nc=None):
        return next((p["runs"] for p in res["http"] if p["mode"] == mode and (nc is None or p["conns"] == nc)), None)

    def cmp(label, a_runs, b_runs, key, lim, higher_better=False):
        if a_runs is None or b_runs is None:
            return
        r = ratio(a_runs, b_runs, key)
        ok = r is not None and (r >= lim if higher_better else r <= lim)
        rows.append((f"{label} {'>=' if higher_better else '<='} {lim}x", r, ok))

    for nc, lim in ((512, 0.80), (64, 0.90)):
        pt = echo_pt(64, nc)
        if pt:
            cmp(f"echo 64 B x {nc}: ursock CPU/msg vs epoll", pt.get("ursock"), pt.get("epoll"), "cpu_us_per_msg", lim)
            cmp(f"echo 64 B x {nc}: ursock CPU/msg vs raw liburing", pt.get("ursock"), pt.get("raw-uring"),
                "cpu_us_per_msg", 0.95)
            cmp(f"echo 64 B x {nc}: ursock CPU/msg vs libuv", pt.get("ursock"), pt.get("libuv"), "cpu_us_per_msg", 0.70)
            cmp(f"echo 64 B x {nc}: ursock's epoll backend CPU/msg vs epoll", pt.get("ursock-epoll"), pt.get("epoll"),
                "cpu_us_per_msg", 1.05)
    pt = echo_pt(64, 512)
    if pt and "ursock" in pt:
        s = med(pt["ursock"], "syscalls_per_msg")[0]
        rows.append(("echo 64 B x 512: ursock syscalls/msg <= 0.05", s, s is not None and s <= 0.05))
    for p in res["http"]:
        if p["mode"] != "plain":
            continue
        runs, nc = p["runs"], p["conns"]
        cmp(f"HTTP x {nc}: ursock CPU/req vs epoll", runs.get("ursock"), runs.get("epoll"), "cpu_us_per_req", 0.80)
        cmp(f"HTTP x {nc}: ursock CPU/req vs nginx", runs.get("ursock"), runs.get("nginx"), "cpu_us_per_req", 0.70)
        cmp(f"HTTP x {nc}: ursock CPU/req vs libuv", runs.get("ursock"), runs.get("libuv"), "cpu_us_per_req", 0.70)
        cmp(f"HTTP x {nc}: ursock's epoll backend CPU/req vs epoll", runs.get("ursock-epoll"), runs.get("epoll"),
            "cpu_us_per_req", 1.05)
    pp = http_pt("pipelined16")
    if pp:
        cmp("HTTP pipelined (16 per write): ursock CPU/req vs epoll", pp.get("ursock"), pp.get("epoll"),
            "cpu_us_per_req", 0.90)
    if res["paced"]:
        cmp(f"p99 at {res['paced']['rate']} msg/s (half epoll's peak): ursock vs epoll",
            res["paced"]["runs"].get("ursock"), res["paced"]["runs"].get("epoll"), "p99_us", 1.0)
    if res["stream"]:
        cmp("streaming (64 KiB writes) throughput: ursock vs epoll", res["stream"].get("ursock"),
            res["stream"].get("epoll"), "bytes_per_s", 1.0, higher_better=True)
    if res["idle"] and "ursock" in res["idle"]:
        b = med(res["idle"]["ursock"], "bytes_per_conn")[0]
        n = med(res["idle"]["ursock"], "conns")[0]
        rows.append((f"user-space memory per idle connection ({int(n or 0)} conns) <= 128 B", b,
                     b is not None and b <= 128))
    mem = res.get("memory") or {}
    if mem.get("loop"):
        k = med(mem["loop"], "loop_kib")[0]
        rows.append(("RSS of a default loop <= 1024 KiB", k, k is not None and k <= 1024))
    if mem.get("http_echo_t2"):
        k = med(mem["http_echo_t2"], "rss_kib")[0]
        rows.append(("RSS of an idle http_echo -t 2 <= 16384 KiB", k, k is not None and k <= 16384))
    return rows


def report(res, out, mach, discarded, quick):
    L = []
    L.append(f"# ursock benchmark report{' (QUICK mode: 1 run a point, 1 s each)' if quick else ''}\n")
    version = f" - ursock {mach['ursock']}" if mach.get("ursock") else ""
    L.append(f"{mach['date']}{version} - kernel {mach['kernel']} - {mach['cpu']} - {mach['cores']} cores  ")
    L.append(f"loop features: `{mach['features']}`  ")
    L.append(f"Servers pinned to CPU 0, load generators to CPU 1. Runs interleaved (A B C ...), "
             f"medians with (min-max). Runs discarded for steal > 5 % or foreign CPU > 10 % and repeated: {discarded}.\n")
    L.append("How to read it: on 2 cores the load generator saturates its own core before a good server does, so "
             "rates differ by less than the noise. **Server CPU per message** (user+system of the server process "
             "over the run, divided by the messages) and **syscalls per message** (io_uring_enter for ursock and "
             "raw liburing; epoll_wait/read/write/accept for the baselines, counted by the servers; ursock-epoll "
             "counts its epoll_wait and socket calls in `urs_loop_stats.enters`; libuv counts none, `-`) separate "
             "the servers. Ratios below are computed within this run.\n")
    L.append("Servers: **ursock** (examples/stream_echo, examples/http_echo), **ursock-epoll** (the same programs "
             "on ursock's epoll backend, `URSOCK_BACKEND=epoll`), **epoll** (a hand-written edge-triggered loop), "
             "**raw-uring** (the leanest echo we can write on liburing alone), **libuv** (libuv's usual pattern: "
             "uv_read_start, one uv_write per chunk), **blocking** (a thread per connection), **nginx** (HTTP "
             "only). Every HTTP server but nginx runs the same http_core (parser, responses, limits).\n")
    L.append("## Targets\n\n| target | measured | met |\n|---|---|---|")
    for name, v, ok in targets(res):
        L.append(f"| {name} | {fmt(v, 3)} | {'yes' if ok else '**no**'} |")
    L.append("\n## Echo (ping-pong, one message in flight per connection)\n")
    L.append("| size | conns | server | msg/s | server CPU us/msg | syscalls/msg | p50 us | p99 us |\n|---|---|---|---|---|---|---|---|")
    for p in res["echo"]:
        for name, runs in p["runs"].items():
            L.append(f"| {p['size']} | {p['conns']} | {name} | {mm(runs, 'rate', 0)} | {mm(runs, 'cpu_us_per_msg')} | "
                     f"{mm(runs, 'syscalls_per_msg', 3)} | {mm(runs, 'p50_us', 0)} | {mm(runs, 'p99_us', 0)} |")
        L.append(ratio_row(p["runs"], "cpu_us_per_msg", "CPU/msg"))
    if res["paced"]:
        L.append(f"\n## Latency at equal offered load ({res['paced']['rate']} msg/s, 64 connections, 64 B)\n")
        L.append("| server | p50 us | p99 us | server CPU us/msg |\n|---|---|---|---|")
        for name, runs in res["paced"]["runs"].items():
            L.append(f"| {name} | {mm(runs, 'p50_us', 0)} | {mm(runs, 'p99_us', 0)} | {mm(runs, 'cpu_us_per_msg')} |")
    if res["stream"]:
        L.append("\n## Streaming (one connection, 64 KiB writes)\n\n| server | GB/s | server CPU s |\n|---|---|---|")
        for name, runs in res["stream"].items():
            L.append(f"| {name} | {mm(runs, 'bytes_per_s', 3, 1e-9)} | {mm(runs, 'server_cpu')} |")
    if res["idle"]:
        L.append("\n## Idle connections (user-space RSS growth per connection)\n\n| server | connections | bytes/conn |\n|---|---|---|")
        for name, runs in res["idle"].items():
            L.append(f"| {name} | {mm(runs, 'conns', 0)} | {mm(runs, 'bytes_per_conn', 0)} |")
    L.append("\n## HTTP (wrk -t1 --latency; pipelined16: 16 requests per write)\n")
    L.append("A p99 of `-` means wrk could not measure it: with 16 requests per write it reports 0, below its own "
             "p50, so no figure is given.\n")
    L.append("| mode | conns | server | req/s | server CPU us/req | p50 us | p99 us | socket errors |\n|---|---|---|---|---|---|---|---|")
    for p in res["http"]:
        for name, runs in p["runs"].items():
            L.append(f"| {p['mode']} | {p['conns']} | {name} | {mm(runs, 'rate', 0)} | {mm(runs, 'cpu_us_per_req')} | "
                     f"{mm(runs, 'p50_us', 0)} | {mm(runs, 'p99_us', 0)} | {mm(runs, 'socket_errors', 0)} |")
        L.append(ratio_row(p["runs"], "cpu_us_per_req", "CPU/req"))
    if res.get("file"):
        L.append("\n## A 1 MiB file (http_echo -d with urs_sendfile, nginx with sendfile on; wrk -t1)\n")
        L.append("| conns | server | MiB/s | server CPU us/req | p50 us | p99 us | socket errors |\n|---|---|---|---|---|---|---|")
        for p in res["file"]:
            for name, runs in p["runs"].items():
                L.append(f"| {p['conns']} | {name} | {mm(runs, 'mib_per_s', 0)} | {mm(runs, 'cpu_us_per_req', 1)} | "
                         f"{mm(runs, 'p50_us', 0)} | {mm(runs, 'p99_us', 0)} | {mm(runs, 'socket_errors', 0)} |")
            L.append(ratio_row(p["runs"], "cpu_us_per_req", "CPU/req"))
    if res.get("threads"):
        t = res["threads"][0]
        L.append(f"\n## HTTP with one and two server threads ({t['conns']} connections)\n")
        L.append("The servers may use both CPUs here and wrk runs on CPU 1, so with `-t 2` the client shares a core "
                 "with one server thread: the rate shows what a second thread buys on a 2-core machine that also "
                 "runs the load generator, not what it buys on a machine of its own.\n")
        L.append("| server | req/s | server CPU us/req | p50 us | p99 us |\n|---|---|---|---|---|")
        for name, runs in t["runs"].items():
            L.append(f"| {name} | {mm(runs, 'rate', 0)} | {mm(runs, 'cpu_us_per_req')} | {mm(runs, 'p50_us', 0)} | "
                     f"{mm(runs, 'p99_us', 0)} |")
    if res.get("features"):
        f = res["features"]
        base = f["runs"].get("all on")
        L.append(f"\n## What each io_uring feature buys (echo 64 B x {f['conns']} connections)\n")
        L.append("stream_echo with one feature turned off at a time (`URSOCK_DISABLE=...`, the same switch "
                 "`urs_loop_opts.disable` gives a program), interleaved with the run that has every feature on. "
                 "`vs all on` is the run's CPU per message over the all-on run's: above 1 means the feature saves "
                 "that much.\n")
        L.append("| loop | msg/s | server CPU us/msg | vs all on | syscalls/msg |\n|---|---|---|---|---|")
        for name, runs in f["runs"].items():
            L.append(f"| {name} | {mm(runs, 'rate', 0)} | {mm(runs, 'cpu_us_per_msg')} | "
                     f"{fmt(ratio(runs, base, 'cpu_us_per_msg') if base else None, 3)} | {mm(runs, 'syscalls_per_msg', 3)} |")
    if res.get("sendpool"):
        L.append("\n## Send buffers: forwarding, the registered pool, zero-copy (stream_echo)\n")
        L.append("stream_echo hands each received buffer back out (`urs_sendall_buf` on the receive buffer), or copies "
                 "it into a registered send buffer (`URS_ECHO_SEND=pool`) sent with zero-copy off or forced on "
                 "(`URS_ZC_THRESHOLD`); interleaved runs.\n")
        L.append("| load | sending | GB/s or msg/s | server CPU (ns/KiB or us/msg) |\n|---|---|---|---|")
        for load, by in res["sendpool"].items():
            for name, runs in by.items():
                if load.startswith("stream"):
                    L.append(f"| {load} | {name} | {mm(runs, 'bytes_per_s', 3, 1e-9)} | {mm(runs, 'cpu_ns_per_kib', 1)} |")
                else:
                    L.append(f"| {load} | {name} | {mm(runs, 'rate', 0)} | {mm(runs, 'cpu_us_per_msg')} |")
    mem = res.get("memory") or {}
    if mem:
        L.append("\n## Memory\n\n| what | KiB (RSS) |\n|---|---|")
        L.append(f"| a default loop (`urs_loop_new(&loop, NULL)`, bench/loop_rss) | {mm(mem['loop'], 'loop_kib', 0)} |")
        L.append(f"| the same after one connection carried a message each way | {mm(mem['loop'], 'after_echo_kib', 0)} |")
        L.append(f"| an idle `http_echo -t 2` (whole process) | {mm(mem['http_echo_t2'], 'rss_kib', 0)} |")
    if res["micro"]:
        unit = res["micro"].get("time_unit", "ns")
        L.append(f"\n## Microbenchmarks (Google Benchmark, {unit} per iteration)\n\n| benchmark | system malloc | jemalloc |\n|---|---|---|")
        for k, v in res["micro"]["sys"].items():
            if k in ("time_unit", "library_build_type"):
                continue
            L.append(f"| {k} | {v:.1f} | {res['micro']['jemalloc'].get(k, 0):.1f} |")
        if res["micro"].get("library_build_type", "debug") == "debug":
            harness = ("the library under test is built `-O2` and the harness `bench/micro/micro.cc` `-O2 -DNDEBUG`, "
                       "and the timed loop is inlined from `benchmark.h` into the harness: what the warning covers is "
                       "the library's bookkeeping between timed batches" if res["micro"].get("harness_ndebug") else
                       "in this run (before the harness was built with `NDEBUG`) the timed loop inlined from "
                       "`benchmark.h` into the harness also kept its assertions")
            L.append("\nRun by hand, the harness prints `***WARNING*** Library was built as DEBUG. Timings may be "
                     "affected.` That is Google Benchmark's own library: Debian's libbenchmark is built without "
                     "`NDEBUG` (its JSON context says `library_build_type: debug`). It is not ursock's build: "
                     + harness + ".")
    if res.get("plots"):
        L.append("\n## Plots\n\nEach point is the median of the runs at that number of connections, its bar "
                 "goes from the lowest to the highest run; only the connection counts marked were measured. "
                 "Each server has one colour and shape in every plot. A y axis marked log scale spans a decade "
                 "or more.")
    for png in res.get("plots", []):
        L.append(f"\n![{png}]({png})\n\n{PLOT_CAPTIONS.get(png, '')}")
    open(os.path.join(out, "report.md"), "w").write("\n".join(L) + "\n")
    return "\n".join(L)


def render_again(source, out):
    """The report and plots of stored results, with today's rendering (same numbers)."""
    d = json.load(open(source))
    res = d["results"]
    for p in res["http"]:  # the rule parse_wrk applies now, for results stored before it
        for runs in p["runs"].values():
            for r in runs:
                if r.get("p99_us") is not None and (r["p99_us"] <= 0 or (r.get("p50_us") or 0) > r["p99_us"]):
                    r["p99_us"] = None
    res["plots"] = plots(res, out)
    text = report(res, out, d["machine"], d["discarded"], d.get("quick", False))
    if os.path.abspath(source) != os.path.abspath(os.path.join(out, "results.json")):
        json.dump(d, open(os.path.join(out, "results.json"), "w"), indent=1)
    print(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default=os.path.join("build", "bench-report"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="echo,paced,stream,idle,http,file,threads,features,sendpool,memory,micro")
    ap.add_argument("--from", dest="source", metavar="RESULTS_JSON",
                    help="no run: render report.md and the plots again from a results.json")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.source:
        return render_again(args.source, args.out)
    b = Bench(args)
    parts = args.only.split(",")
    plan = b.plan(parts)
    b.nominal = {p: secs for p, (_, secs) in plan.items()}
    b.progress = Progress(plan)
    print(f"{b.progress.total} runs, about {clock(b.progress.nominal_left)} (QUICK: 1 run a point)"
          if b.quick else f"{b.progress.total} runs, about {clock(b.progress.nominal_left)}", flush=True)
    t0 = time.time()
    for part in parts:
        print(f"== {part}", flush=True)
        getattr(b, part)()
    b.results["plots"] = plots(b.results, args.out)
    mach = machine(args.build)
    json.dump({"machine": mach, "discarded": b.discarded, "quick": b.quick, "results": b.results},
              open(os.path.join(args.out, "results.json"), "w"), indent=1)
    print(report(b.results, args.out, mach, b.discarded, args.quick))
    print(f"\nbench took {time.time() - t0:.0f} s; report in {args.out}/report.md")


if __name__ == "__main__":
    main()
