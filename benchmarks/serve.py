"""`engine serve` under load: concurrent clients on loopback asking for explained top-10s.

Starts `engine serve` on the default synthetic set's gat-enhanced (benchmarks/train.py's data
directory, or trains one), then ``--clients`` clients (asyncio, one keep-alive connection
each; each waits for its answer before it asks again) request
`/v1/users/{u}/recommendations?k=10&explain=true` for random known listeners for
``--seconds``, twice: as fast as answers come (the throughput; 50 clients waiting on each
other then measure queueing: latency = clients / throughput), then paced at ``--rate``
requests a second in all (the latency at that load). Prints throughput, p50 / p99 latency
and errors (targets on 2 cores: >= 300 requests/s at p99 <= 50 ms, no errors).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ENGINE, ROOT, ensure_trained, print_table, served_recommender  # noqa: E402


class _Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol to send GETs
    and read answers with a Content-Length: a load generator that costs the shared cores tens
    of microseconds a request, where an HTTP library costs milliseconds."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _client(base: str, users: list[str], until: float, latencies: list[float], errors: list[int],
                  rng: random.Random, interval: float | None, start: float) -> None:
    """One client: as fast as answers come (``interval`` None), or one request each
    ``interval`` seconds from ``start`` on; latency counts from when a request was due, so a
    slow answer that delays the next request is counted against the server (no coordinated
    omission)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    connection = _Connection(host, int(port))
    due = start
    try:
        while time.perf_counter() < until:
            if interval is not None:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            user = rng.choice(users)
            tick = due if interval is not None else time.perf_counter()
            try:
                ok = await connection.get(f"/v1/users/{user}/recommendations?k=10&explain=true") == 200
            except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration):
                ok = False
                connection.close()
                connection = _Connection(host, int(port))
            latencies.append((time.perf_counter() - tick) * 1000)
            if not ok:
                errors.append(1)
            due += interval or 0.0
    finally:
        connection.close()


async def _load(base: str, users: list[str], clients: int, seconds: float,
                rate: float | None = None) -> tuple[list[float], int, float]:
    """``clients`` clients for ``seconds``: closed loop, or ``rate`` requests a second in all."""
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    until = started + seconds
    interval = clients / rate if rate else None
    await asyncio.gather(*(_client(base, users, until, latencies, errors, random.Random(n), interval,
                                   started + (interval or 0.0) * n / clients) for n in range(clients)))
    return latencies, len(errors), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "bench-data" / "train")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="an engine data directory with a trained --model (parquet store) to serve "
                             "instead of the default set")
    parser.add_argument("--model", default="gat-enhanced")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate", type=float, default=300.0,
                        help="requests a second offered in the paced run (all clients together)")
    parser.add_argument("--port", type=int, default=8765, help="with --workers above 1")
    args = parser.parse_args()
    data_dir = args.data_dir or ensure_trained(args.work, args.model)
    recommender, _ = served_recommender(data_dir, args.model)
    users = [str(u) for u in recommender.loaded.user_ids]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    server = subprocess.Popen([ENGINE, "--data-dir", str(data_dir), "serve", "--port",
                               "0" if args.workers == 1 else str(args.port),
                               "--workers", str(args.workers)], stderr=subprocess.PIPE, text=True, env=env)
    try:
        base = next(line.split("listening on ")[1].split()[0] for line in server.stderr
                    if "listening on " in line)
        while True:  # the workers start after the line above; each loads the model on its first request
            try:
                httpx.get(f"{base}/health/ready", timeout=30)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        asyncio.run(_load(base, users[:50], 5, 3))
        closed = asyncio.run(_load(base, users, args.clients, args.seconds))
        paced = asyncio.run(_load(base, users, args.clients, args.seconds, args.rate))
    finally:
        server.terminate()
        server.wait(timeout=30)
    rows = [["set", f"{len(users):,} users x {len(recommender.loaded.song_ids):,} songs, {args.model}", ""],
            ["clients x seconds (workers)", f"{args.clients} x {args.seconds:.0f} s ({args.workers})", ""]]
    for name, (latencies, errors, wall), target in (
            ("as fast as answers come", closed, ">= 300 requests/s"),
            (f"{args.rate:.0f} requests/s offered", paced, "p99 <= 50 ms")):
        rows += [[name, f"{len(latencies):,} requests, {len(latencies) / wall:.0f} requests/s", target],
                 ["  latency p50 / p99", f"{statistics.median(latencies):.1f} / "
                                        f"{float(np.percentile(latencies, 99)):.1f} ms", ""],
                 ["  errors", f"{errors}", "0"]]
    print_table(["measure", "value", "target"], rows)


if __name__ == "__main__":
    main()
