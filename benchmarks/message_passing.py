"""Full against sampled message passing: one training epoch's time and peak memory per set.

For each synthetic set (1x: 1,000 users / 5,000 songs / 500 artists; 10x and 100x scale all
three), generated and ingested once: training steps of gat-basic with the default settings,
each mode in its own process (so each peak is its own), full passes timed over a whole epoch
(at most 20 steps) or ``--steps`` steps if more, sampled passes over ``--steps`` steps of the
default batch, each scaled from the median step to an epoch's steps (a 100x sampled epoch takes
about half an hour). Step times on shared cores move by a third between minutes, so with
``--rounds R`` every set's process runs R times, the sets taking turns, and each figure is the
round with the fastest median step. Processes of the same code differ by as much, so
``--paired ROUNDS`` instead loads every set into one process and times one full-pass step
of each a round, in a random order, and gives each round's ratio of epochs. Issue 16's
target: an epoch grows at most 12x for each 10x of data.
Run: .venv/bin/python benchmarks/message_passing.py [--scales 1 10 100] [--steps 25] [--rounds 3]
     [--modes full sampled] [--paired 25]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, measure, print_table  # noqa: E402
from scale import generate_and_ingest  # noqa: E402

import entrypoints  # noqa: E402, F401  (a run's process settings, before torch is imported)


class StepTimer:
    """A set's trainer with the split, graph, model and samplers a run has, ready to time
    training steps of ``mode``'s message passing on random batches of an epoch's size."""

    def __init__(self, data_dir: Path, mode: str) -> None:
        import numpy as np
        import torch

        from adapters.storage.parquet import ParquetInteractionRepository
        from adapters.training.trainers import AdvancedTrainer
        from domain.ports import SilentProgress
        from domain.training import TrainingSpec

        dataset = ParquetInteractionRepository(data_dir / "store").load()
        spec = TrainingSpec(model="gat-basic", epochs=0, device="cpu", message_passing=mode)
        self.trainer = AdvancedTrainer(spec, data_dir / f"bench-{mode}", SilentProgress())
        self.trainer.train(dataset)  # no epochs: what a run builds before its first step
        self.trainer.optimizer = torch.optim.Adam(self.trainer.model.parameters(), lr=spec.lr)
        self.pairs = len(self.trainer.train_pairs.users)
        self.batch = self.trainer.epoch_batch_size()
        self.epoch_steps = -(-self.pairs // self.batch)
        self.rng = np.random.default_rng(0)
        if self.trainer.neighbourhoods is not None:
            self.trainer.neighbourhoods.shuffle()
        self.trainer.model.train()

    def step(self) -> float:
        """Seconds one training step takes."""
        rows = self.rng.integers(0, self.pairs, self.batch)
        started = time.perf_counter()
        self.trainer.train_step(rows)
        return time.perf_counter() - started


def one_mode(data_dir: Path, mode: str, steps: int) -> dict:
    """Time ``mode``'s training steps on the stored set (run in a process of its own)."""
    timer = StepTimer(data_dir, mode)
    timed = max(timer.epoch_steps, steps) if mode == "full" else min(steps, timer.epoch_steps)
    walls = [timer.step() for _ in range(timed)]
    step = statistics.median(walls[1:] if len(walls) > 2 else walls)
    return {"pairs": timer.pairs, "steps": timer.epoch_steps, "step_s": step,
            "epoch_s": step * timer.epoch_steps,
            "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def paired(data_dirs: dict[int, Path], rounds: int) -> None:
    """Every set's full-pass steps in one process, one step of each set a round in a random
    order: each round gives each pair of sets an epoch-time ratio measured side by side,
    free of the differences between processes (docs/benchmarks.md, 2026-12-07 (night))."""
    import random

    timers = {scale: StepTimer(path, "full") for scale, path in data_dirs.items()}
    for timer in timers.values():
        timer.step()  # the first step sorts the edges and fills the heap
    walls: dict[int, list[float]] = {scale: [] for scale in timers}
    order = list(timers)
    for _ in range(rounds):
        random.shuffle(order)
        for scale in order:
            walls[scale].append(timers[scale].step())
    rows = [[f"{scale}x", f"{timer.pairs:,}", timer.epoch_steps, f"{statistics.median(walls[scale]):.3f}",
             f"{statistics.median(walls[scale]) * timer.epoch_steps:.1f}"] for scale, timer in timers.items()]
    print_table(["set", "training pairs", "steps / epoch", "s / step", "s / epoch"], rows)
    scales = sorted(timers)
    for smaller, larger in zip(scales, scales[1:], strict=False):
        ratios = sorted(timers[larger].epoch_steps * big / (timers[smaller].epoch_steps * small)
                        for big, small in zip(walls[larger], walls[smaller], strict=True))
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        print(f"paired: an epoch at {larger}x takes {statistics.median(ratios):.1f}x its time at "
              f"{smaller}x (quartiles {quartiles[0]:.1f} to {quartiles[2]:.1f} over {len(ratios)} "
              f"rounds; target <= {1.2 * larger / smaller:.0f}x)")
    print(f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB, all sets together")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--steps", type=int, default=25, help="steps timed at least (sampled: at most)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each set's process, taking turns")
    parser.add_argument("--modes", nargs="+", choices=("full", "sampled"), default=["full", "sampled"])
    parser.add_argument("--work", type=Path, default=ROOT / "bench-data" / "message-passing")
    parser.add_argument("--paired", type=int, metavar="ROUNDS",
                        help="instead: full passes of every set in one process, a step of each a round")
    parser.add_argument("--one", nargs=2, metavar=("DATA_DIR", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_mode(Path(args.one[0]), args.one[1], args.steps)))
        return
    data_dirs = {scale: generate_and_ingest(scale, args.work)[0] for scale in args.scales}
    if args.paired:
        paired(data_dirs, args.paired)
        return
    best: dict[tuple[int, str], dict] = {}
    for _ in range(args.rounds):
        for scale in args.scales:
            for mode in args.modes:
                figures = json.loads(measure([sys.executable, __file__, "--steps", str(args.steps),
                                              "--one", str(data_dirs[scale]), mode]).stdout)
                if (scale, mode) not in best or figures["step_s"] < best[scale, mode]["step_s"]:
                    best[scale, mode] = figures
    rows, epochs = [], {}
    for (scale, mode), figures in best.items():
        epochs[scale, mode] = figures["epoch_s"]
        rows.append([f"{scale}x", f"{figures['pairs']:,}", mode, figures["steps"],
                     f"{figures['step_s']:.3f}", f"{figures['epoch_s']:.1f}", f"{figures['peak_gb']:.2f}"])
    print_table(["set", "training pairs", "message passing", "steps / epoch", "s / step", "s / epoch",
                 "peak GB"], rows)
    for smaller, larger in zip(args.scales, args.scales[1:], strict=False):
        for mode in args.modes:
            print(f"{mode}: an epoch at {larger}x takes {epochs[larger, mode] / epochs[smaller, mode]:.1f}x "
                  f"its time at {smaller}x (target <= {1.2 * larger / smaller:.0f}x)")


if __name__ == "__main__":
    main()
