"""`engine train --nproc N`: N copies of the same `engine train` on this machine, each told its
rank through the variables torchrun sets, so one entry point serves both (across machines,
run it under `torchrun --nnodes ... --nproc-per-node ...` instead)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path


def without_option(argv: list[str], name: str) -> list[str]:
    """``argv`` without ``name VALUE`` or ``name=VALUE``."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            kept.append(arg)
    return kept


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_ranks(nproc: int, argv: list[str]) -> int:
    """Run ``engine argv`` as ``nproc`` ranks; rank 0 speaks, the others keep quiet unless they
    fail. Returns the first failing rank's exit code (the others are stopped), else 0."""
    threads = max(1, (os.cpu_count() or 1) // nproc)  # the cores shared out, as torchrun would
    common = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()),
              "WORLD_SIZE": str(nproc), "LOCAL_WORLD_SIZE": str(nproc), "OMP_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory(prefix="engine-ranks-") as logs, ExitStack() as files:
        errors = [files.enter_context(open(Path(logs) / f"rank-{rank}.err", "w+"))
                  for rank in range(1, nproc)]
        ranks = [subprocess.Popen([sys.executable, "-m", "entrypoints.cli", *argv],
                                  env={**common, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                                  stdout=None if rank == 0 else subprocess.DEVNULL,
                                  stderr=None if rank == 0 else errors[rank - 1])
                 for rank in range(nproc)]
        try:
            # a rank that fails leaves the others waiting on it for ever: stop them
            while not any(r.poll() not in (None, 0) for r in ranks) and any(r.poll() is None for r in ranks):
                time.sleep(0.2)
        finally:
            for rank in ranks:
                if rank.poll() is None:
                    rank.terminate()
                    rank.wait()
        for number, rank in enumerate(ranks):
            if rank.returncode not in (0, -signal.SIGTERM):
                if number:  # rank 0 wrote its own error where the user sees it
                    errors[number - 1].seek(0)
                    sys.stderr.write(f"rank {number} failed ({rank.returncode}):\n")
                    sys.stderr.write(errors[number - 1].read())
                return rank.returncode
    return 0
