#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Backpressure check: HOGS clients send without ever reading while a control client does
ping-pong; reports the server's peak RSS and the control client's latency. Bounded in time
(--seconds) and bytes; stops the server it started by its PID.

  bench/backpressure.py build/examples/stream_echo            (echo: 64-byte ping-pong)
  bench/backpressure.py --http build/examples/http_echo       (HTTP: GET / as the ping)
"""
import argparse, os, select, signal, socket, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("server", nargs="+")
ap.add_argument("--http", action="store_true")
ap.add_argument("--hogs", type=int, default=10)
ap.add_argument("--seconds", type=float, default=5.0)
ap.add_argument("--cap-mb", type=int, default=512, help="stop a hog after sending this much")
a = ap.parse_args()

srv = subprocess.Popen(a.server + ["127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
line = srv.stdout.readline().decode()
port = int(line.rsplit(":", 1)[1])


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    return 0


rss0 = rss_kb(srv.pid)
if a.http:
    body = b"x" * 60000
    chunk = (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(body) + body) * 4
else:
    chunk = b"h" * 65536
hogs = []
for _ in range(a.hogs):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    hogs.append([s, 0])
ctl = socket.create_connection(("127.0.0.1", port))
ctl.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
ctl.settimeout(5)
ping = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n" if a.http else b"p" * 64
lat, rss_peak, fails = [], rss0, 0
t_end = time.time() + a.seconds
next_ping = time.time()
cap = a.cap_mb << 20
while time.time() < t_end:
    w = [h[0] for h in hogs if h[1] < cap]
    _, wr, _ = select.select([], w, [], 0.01)
    for h in hogs:
        if h[0] in wr:
            try:
                h[1] += h[0].send(chunk)
            except (BlockingIOError, ConnectionError):
                pass
    if time.time() >= next_ping:
        next_ping = time.time() + 0.05
        t0 = time.perf_counter()
        try:
            ctl.sendall(ping)
            got = b""
            if a.http:
                while b"\r\n\r\n" not in got:
                    got += ctl.recv(4096)
                head, rest = got.split(b"\r\n\r\n", 1)
                n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
                while len(rest) < n:
                    rest += ctl.recv(4096)
            else:
                while len(got) < len(ping):
                    got += ctl.recv(4096)
            lat.append((time.perf_counter() - t0) * 1e3)
        except OSError:
            fails += 1
        rss_peak = max(rss_peak, rss_kb(srv.pid))
sent = sum(h[1] for h in hogs)
for h in hogs:
    h[0].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    h[0].close()
ctl.close()
srv.send_signal(signal.SIGTERM)
try:
    srv.wait(10)
except subprocess.TimeoutExpired:
    srv.kill()
    srv.wait()
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] if lat else float("nan")
print(f"{os.path.basename(a.server[0])}: {a.hogs} clients sent {sent / 1e6:.0f} MB without reading; "
      f"server RSS {rss0 / 1024:.1f} MB at start, peak {rss_peak / 1024:.1f} MB; control client "
      f"{len(lat)} round trips, p50 {pct(0.5):.2f} ms, p99 {pct(0.99):.2f} ms, max {pct(1.0):.2f} ms, "
      f"{fails} failed")
sys.exit(0 if fails == 0 else 1)
