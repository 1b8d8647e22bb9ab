#!/usr/bin/env python3
"""A TCP proxy that puts a network's latency (and optionally a bandwidth
cap) between a client and a registry on loopback, and logs the requests
that cross it.

    python3 benches/delay_proxy.py --listen 127.0.0.1:5001 --upstream 127.0.0.1:5000 \\
        --delay-ms 100 [--mbit 100] [--log requests.log]

Every byte is delivered `delay` after it was sent, in each direction, so
a request and its response cost a round trip of 2 × delay, like a link of
that one-way latency:

- A new connection costs one round trip more (TCP's handshake): the
  client's connect() returns at once (the proxy is local), so the first
  bytes it sends are held 2 × delay longer. A TLS handshake, or a client's
  failed attempt at one, costs its round trips on top, as on a real link.
- With `--mbit`, each direction is one link of that capacity shared by
  every connection: a chunk leaves when the link is free and is delivered
  delay after its last byte left (serialisation, then propagation).
- Nothing limits the window: bytes already sent keep flowing whatever the
  client reads, so this is a link without TCP slow start, a floor that
  real long links only approach.

With `--log`, each request line seen from a client is written as
`<seconds since start> <connection> <METHOD> <path>`, for counting the
requests of a copy and the round trips on its path (an opaque TLS
connection logs `TLS` once). `kill -USR1` makes the proxy start a new log
file generation (truncates the log).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import signal
import sys
import time

CHUNK = 64 * 1024
REQUEST = re.compile(rb"(GET|HEAD|POST|PUT|PATCH|DELETE) (/\S*) HTTP/1\.[01]\r\n")


class Link:
    """One direction of the emulated network, shared by all connections."""

    def __init__(self, delay: float, bytes_per_s: float | None):
        self.delay = delay
        self.rate = bytes_per_s
        self.free_at = 0.0

    def arrival(self, now: float, size: int) -> float:
        if self.rate is None:
            return now + self.delay
        start = max(now, self.free_at)
        self.free_at = start + size / self.rate
        return self.free_at + self.delay


class Log:
    def __init__(self, path: str | None):
        self.path = path
        self.start = time.monotonic()
        self.file = open(path, "w", buffering=1) if path else None

    def rotate(self) -> None:
        if self.path:
            self.file.close()
            self.file = open(self.path, "w", buffering=1)
            self.start = time.monotonic()

    def request(self, conn: int, method: str, path: str) -> None:
        if self.file:
            self.file.write(f"{time.monotonic() - self.start:.4f} {conn} {method} {path}\n")


async def pump(reader, writer, link: Link, first_extra: float, on_chunk=None) -> None:
    """Copies reader to writer, each chunk delivered at its arrival time,
    in order."""
    queue: asyncio.Queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    sender = asyncio.create_task(deliver())
    extra = first_extra
    try:
        while True:
            data = await reader.read(CHUNK)
            now = time.monotonic()
            if not data:
                # The end travels like data.
                await queue.put((link.arrival(now, 0) + extra, None))
                break
            if on_chunk:
                on_chunk(data)
            await queue.put((link.arrival(now, len(data)) + extra, data))
            extra = 0.0
        await sender
    except (ConnectionError, OSError):
        pass
    finally:
        sender.cancel()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", required=True, help="host:port to listen on")
    ap.add_argument("--upstream", required=True, help="host:port of the registry")
    ap.add_argument("--delay-ms", type=float, required=True, help="one-way latency")
    ap.add_argument("--mbit", type=float, help="capacity of each direction, Mbit/s")
    ap.add_argument("--log", help="request log")
    args = ap.parse_args()
    delay = args.delay_ms / 1000
    rate = args.mbit * 1e6 / 8 if args.mbit else None
    up, down = Link(delay, rate), Link(delay, rate)
    log = Log(args.log)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, log.rotate)
    ids = itertools.count(1)
    uhost, uport = args.upstream.rsplit(":", 1)

    async def handle(creader, cwriter):
        conn = next(ids)
        try:
            sreader, swriter = await asyncio.open_connection(uhost, int(uport))
        except OSError:
            cwriter.close()
            return
        seen_first = False

        def requests(data: bytes) -> None:
            nonlocal seen_first
            if not seen_first and data[:1] == b"\x16":
                log.request(conn, "TLS", "-")
            seen_first = True
            for m in REQUEST.finditer(data):
                log.request(conn, m.group(1).decode(), m.group(2).decode())

        try:
            await asyncio.gather(
                pump(creader, swriter, up, 2 * delay, requests),
                pump(sreader, cwriter, down, 0.0),
            )
        finally:
            for w in (swriter, cwriter):
                w.close()

    lhost, lport = args.listen.rsplit(":", 1)
    server = await asyncio.start_server(handle, lhost, int(lport), limit=CHUNK)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
