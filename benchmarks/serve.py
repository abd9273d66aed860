"""`engine serve` under load: concurrent clients on loopback asking for explained top-10s.

Starts `engine serve` on the default synthetic set's gat-enhanced (benchmarks/train.py's data
directory, or trains one), then ``--clients`` clients (asyncio, httpx; each waits for its
answer before it asks again) request `/v1/users/{u}/recommendations?k=10&explain=true` for
random known listeners for ``--seconds``. Prints throughput, p50 / p99 latency and errors
(targets on 2 cores: >= 300 requests/s, p99 <= 50 ms, no errors).
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

MODEL = "gat-enhanced"


async def _client(base: str, users: list[str], until: float, latencies: list[float], errors: list[int],
                  rng: random.Random) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.perf_counter() < until:
            user = rng.choice(users)
            tick = time.perf_counter()
            try:
                answer = await client.get(f"/v1/users/{user}/recommendations",
                                          params={"k": 10, "explain": "true"})
                ok = answer.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - tick) * 1000)
            if not ok:
                errors.append(1)


async def _load(base: str, users: list[str], clients: int, seconds: float) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(_client(base, users, until, latencies, errors, random.Random(n))
                           for n in range(clients)))
    return latencies, len(errors), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "bench-data" / "train")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765, help="with --workers above 1")
    args = parser.parse_args()
    data_dir = ensure_trained(args.work, MODEL)
    recommender, _ = served_recommender(data_dir, MODEL)
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
        latencies, errors, wall = asyncio.run(_load(base, users, args.clients, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print_table(["measure", "value", "target"], [
        ["set", f"{len(users):,} users x {len(recommender.loaded.song_ids):,} songs, {MODEL}", ""],
        ["clients x seconds (workers)", f"{args.clients} x {args.seconds:.0f} s ({args.workers})", ""],
        ["requests", f"{len(latencies):,}", ""],
        ["throughput", f"{len(latencies) / wall:.0f} requests/s", ">= 300"],
        ["latency p50", f"{statistics.median(latencies):.1f} ms", ""],
        ["latency p99", f"{float(np.percentile(latencies, 99)):.1f} ms", "<= 50 ms"],
        ["errors", f"{errors}", "0"],
    ])


if __name__ == "__main__":
    main()
