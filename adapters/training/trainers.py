"""Trainers: BaseTrainer runs the loop; SimpleTrainer and AdvancedTrainer decide
what data it sees, how it is judged and when it stops.

BPR loss, negatives drawn from songs the user has not heard in training (optionally only the
highest-scored of each positive's negatives counts: dynamic negative sampling), Adam, and
optionally an exponential moving average of the weights for everything but the steps.
Everything is seeded; the same spec on the same data gives the same model.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch

from adapters.common.atomic import atomic_file
from adapters.common.user_songs import UserSongs
from adapters.evaluation.protocol import (
    K,
    Pairs,
    Ranked,
    Split,
    rank_in_context,
    rank_served,
    split_interactions,
)
from adapters.graph.neighbourhoods import NeighbourhoodSampler
from adapters.graph.pyg_builder import PygGraphBuilder
from adapters.models.factory import create_model, save_checkpoint
from adapters.models.gat import ROW_TABLES, node_kind
from adapters.scoring.export import serving_arrays, write_serving
from adapters.scoring.served import LoadedModel
from adapters.training import distributed
from adapters.training.averaging import WeightAverage
from adapters.training.distributed import Ranks
from adapters.training.heap import keep_freed_memory
from adapters.training.plots import plot_history
from adapters.training.sampling import NegativeSampler
from domain.errors import InvalidSetting
from domain.ports import Dataset, Progress
from domain.training import DEVICES, VALIDATION_METRIC, TrainingResult, TrainingSpec

log = logging.getLogger(__name__)
# An epoch takes at most this many steps (the batch grows past the spec's where it must),
# so its cost follows the graph's size; with the default batch of 2,048, every set of more
# than 41,000 training pairs (the default set, HetRec and up) takes exactly this many.
MAX_STEPS_PER_EPOCH = 20
# Pairs scored at once in a step's loss: bounds a large batch's memory.
LOSS_CHUNK = 4096
# Peak memory of a full-graph training run per training pair and message-passing layer
# (gat-basic on the 100x synthetic set: 5.8 GB over 4.69 million pairs, with freed memory
# kept by the process and messages summed in chunks of edges, docs/benchmarks.md).
FULL_PASS_BYTES_PER_PAIR = 1300
# message_passing auto samples where a full-graph run would need more than this share of
# the device's memory: on 2 cores a full-graph epoch costs less than a sampled one at every
# size measured (1x to 100x), so sampling is what lets a graph train that would not fit
MEMORY_SHARE = 0.5


class ChunkRows:
    """A pass's tables holding only a loss chunk's rows (distinct global indices per node
    kind), as fresh leaves, with maps from global index to row (``user_of`` / ``song_of``).
    The maps are one buffer per node kind, reused chunk after chunk and cleared of the
    chunk's entries after it, rather than a new map filled per chunk (at 100x, 57 chunks a
    step of 600,000 entries each)."""

    def __init__(self) -> None:
        self._maps: dict[str, torch.Tensor] = {}

    @contextmanager
    def subset(self, z: dict[str, torch.Tensor], read: dict[str, torch.Tensor]
               ) -> Iterator[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]]:
        """(the chunk's tables, where their rows are in ``z``'s own tables) while in use."""
        subset, where = dict(z), {}
        for kind, index in read.items():
            of = z.get(kind + "_of")
            where[kind] = index if of is None else of.index_select(0, index)
            local = self._map(kind, len(z[kind]) if of is None else len(of), index.device)
            local[index] = torch.arange(len(index), device=index.device)
            subset[kind + "_of"] = local
        for table in ROW_TABLES:
            subset[table] = z[table].detach().index_select(0, where[node_kind(table)]).requires_grad_(
                z[table].requires_grad)
        try:
            yield subset, where
        finally:
            for kind, index in read.items():
                self._maps[kind][index] = -1

    def _map(self, kind: str, size: int, device: torch.device) -> torch.Tensor:
        local = self._maps.get(kind)
        if local is None or len(local) != size or local.device != device:
            local = self._maps[kind] = torch.full((size,), -1, dtype=torch.long, device=device)
        return local


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InvalidSetting("--device cuda asked for, but no CUDA device is available; use cpu or auto")
    if name not in DEVICES:
        raise InvalidSetting(f"unknown device {name!r}; use {', '.join(DEVICES)}")
    return torch.device(name)


def device_memory(device: torch.device) -> int:
    """Bytes of memory the device has: the GPU's own, or the machine's."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def model_hyper_parameters(spec: TrainingSpec) -> dict[str, Any]:
    if spec.model == "popularity":
        return {}
    return {"members": spec.members, "context": spec.context,
            **({"alpha": spec.alpha} if spec.model == "gat-enhanced" else {})}


class BaseTrainer:
    name = "base"

    def __init__(self, spec: TrainingSpec, out_dir: Path, progress: Progress,
                 ranks: Ranks | None = None) -> None:
        self.spec = spec
        self.ranks = ranks or Ranks()
        self.out_dir = out_dir
        self.progress = progress
        self.device = resolve_device(spec.device)
        self.history: list[dict[str, float]] = []
        self.files: dict[str, str] = {}
        self.exported: dict[str, np.ndarray] | None = None  # the final weights, as published
        self.chunk_rows = ChunkRows()

    # -- what subclasses decide ------------------------------------------------------------
    def parts(self, dataset: Dataset) -> Split:
        raise NotImplementedError

    def after_epoch(self, epoch: int, metrics: dict[str, float]) -> bool:
        """Record the epoch; return True to stop early."""
        return False

    def epoch_metrics(self) -> dict[str, float]:
        return {}

    def final_metrics(self) -> dict[str, float]:
        return {}

    # -- the loop --------------------------------------------------------------------------
    def train(self, dataset: Dataset) -> TrainingResult:
        started = time.perf_counter()
        torch.manual_seed(self.spec.seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        keep_freed_memory()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.split = self.parts(dataset)
        self.bundle = PygGraphBuilder().build_bundle(dataset, self.split.train)
        self.model = create_model(self.spec.model, self.bundle, **model_hyper_parameters(self.spec))
        self.train_pairs = Pairs(self.split.train, self.bundle.ids)
        self.neighbourhoods = self._neighbourhood_sampler()
        self.bundle.data = self.bundle.data.to(self.device)
        self.model.to(self.device)
        self.best_epoch = 0
        epochs = self.spec.epochs if self.model.trainable else 0
        self.average: WeightAverage | None = None
        if self.model.trainable:
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.spec.lr)
            if self.spec.ema_decay:
                self.average = WeightAverage(self.model, self.optimizer, self.spec.ema_decay)
            self.sampler = NegativeSampler(self.train_pairs.users, self.train_pairs.songs,
                                           self.train_pairs.shape[1], self.spec.seed)
        self.on_start()
        self.progress.start(f"training {self.spec.model}", total=max(epochs, 1))
        epochs_run = 0
        for epoch in range(1, epochs + 1):
            epoch_started = time.perf_counter()
            loss = self.train_epoch(epoch)
            judged = epoch % self.spec.validate_every == 0 or epoch == epochs
            # Judged, and checkpointed, on the averaged weights; trained on the live ones.
            with self.average.applied() if self.average else nullcontext():
                # the lead rank judges; every rank then takes the same decisions from its figures
                judgement = self.epoch_metrics() if judged and self.ranks.lead else {}
                metrics = distributed.from_lead(
                    {"epoch": epoch, "loss": loss, **judgement, "lr": self.optimizer.param_groups[0]["lr"],
                     "wall_s": time.perf_counter() - epoch_started}, self.ranks)
                stop = self.after_epoch(epoch, metrics)
            self.history.append(metrics)
            epochs_run = epoch
            log.info("epoch %d %s", epoch, {k: round(v, 4) for k, v in metrics.items()})
            self.progress.update(**{k: v for k, v in metrics.items() if k not in ("epoch", "wall_s")})
            self.progress.advance()
            if stop:
                break
        self.progress.finish()
        if self.average:
            self.average.keep()
        if not self.ranks.lead:  # the lead rank tests, exports and writes the run
            return TrainingResult(model=self.spec.model, trainer=self.name, parameters={}, best_epoch=0,
                                  epochs_run=epochs_run, wall_s=time.perf_counter() - started, test={})
        test = self.final_metrics()
        self.model.to("cpu")
        self.bundle.data = self.bundle.data.to("cpu")
        self._save("model.pt", epochs_run)
        serving = self.out_dir / "serving.npz"
        write_serving(self.exported if self.exported is not None else serving_arrays(self.model), serving)
        self.files["serving"] = serving.name
        wall = time.perf_counter() - started
        result = TrainingResult(
            model=self.spec.model, trainer=self.name, parameters=self.model.parameter_counts(),
            best_epoch=self.best_epoch, epochs_run=epochs_run, wall_s=wall, test=test,
            history=self.history, files=self.files, device=str(self.device),
            message_passing="full" if self.neighbourhoods is None else "sampled", split=self.split.counts(),
            notes=self._notes())
        self._write_reports(result)
        return result

    def on_start(self) -> None:
        pass

    def _notes(self) -> list[str]:
        notes = []
        if len(self.bundle.ids["user"]) == 1:
            notes.append("one listener: the catalogue holds only the songs they played, so the model "
                         "can rank their own songs (what to play again) but cannot find new ones, and "
                         "held-out figures measure only that; ingest more listeners to learn from others")
        if len(self.bundle.ids["genre"]) == 0:
            notes.append("no genres in the data: genre terms and genre explanations are left out; add "
                         "them with `engine ingest ... --artist-genres FILE`")
        return notes

    def message_passing(self) -> str:
        """full or sampled: the spec's, or for auto, sampled where a full-graph run's estimated
        peak would take more than MEMORY_SHARE of the device's memory."""
        if self.spec.message_passing != "auto":
            return self.spec.message_passing
        layers = getattr(self.model, "message_layers", 1)
        needed = len(self.train_pairs.users) * FULL_PASS_BYTES_PER_PAIR * layers
        return "sampled" if needed > MEMORY_SHARE * device_memory(self.device) else "full"

    def _neighbourhood_sampler(self) -> NeighbourhoodSampler | None:
        relations = getattr(self.model, "message_relations", None)
        if not self.model.trainable or relations is None or self.message_passing() != "sampled":
            return None
        return NeighbourhoodSampler(self.bundle.data, relations, self.model.message_layers,
                                    self.spec.fanout, self.spec.seed)

    def epoch_batch_size(self) -> int:
        """The spec's batch size; with full message passing, larger where an epoch would
        otherwise take more than MAX_STEPS_PER_EPOCH steps: each step then passes messages
        over the whole graph, so a fixed batch would make an epoch cost grow with the square
        of the data."""
        if self.neighbourhoods is not None:
            return self.spec.batch_size
        return max(self.spec.batch_size, -(-len(self.train_pairs.users) // MAX_STEPS_PER_EPOCH))

    def train_epoch(self, epoch: int) -> float:
        self.model.train()
        generator = torch.Generator().manual_seed(self.spec.seed + epoch)
        order = torch.randperm(len(self.train_pairs.users), generator=generator).numpy()
        if self.neighbourhoods is not None:
            self.neighbourhoods.shuffle()
        batch_size = self.epoch_batch_size()
        total, batches = 0.0, 0
        for start in range(0, len(order), batch_size):
            total += self.train_step(order[start:start + batch_size])
            batches += 1
        return total / max(batches, 1)

    def train_step(self, batch: np.ndarray) -> float:
        """One optimiser step on the training pairs at rows ``batch``; returns its loss."""
        # grouped by user, a loss chunk reads fewer distinct users and history songs, so fewer
        # rows' gradients are added up (a 100x step 11 % faster); the batch's sum is the same
        batch = batch[np.argsort(self.train_pairs.users[batch], kind="stable")]
        users, positives = self.train_pairs.users[batch], self.train_pairs.songs[batch]
        hours = self.train_pairs.hours[batch]
        # Several negatives per positive: one graph forward pass serves them all and BPR
        # gets more pairs to learn from.
        negatives = self.sampler.sample(np.repeat(users, self.spec.negatives)).reshape(
            len(batch), self.spec.negatives)
        # every rank drew the same batch and negatives (same seeds); each learns from its share
        mine = self.ranks.share(np.arange(len(batch)))
        weight = len(mine) / len(batch)
        self.optimizer.zero_grad()
        loss = 0.0
        if len(mine):  # a last batch may hold fewer rows than there are ranks
            loss = self._step_backward(users[mine], positives[mine], negatives[mine], hours[mine]) * weight
        distributed.average_gradients(list(self.model.parameters()), self.ranks, weight)
        self.optimizer.step()
        return distributed.total(loss, self.ranks)

    def message_pass(self, users: np.ndarray, positives: np.ndarray, negatives: np.ndarray
                     ) -> dict[str, torch.Tensor]:
        """The step's embeddings: over the whole graph, or over the sampled neighbourhoods of
        the users and songs its loss reads."""
        if self.neighbourhoods is None:
            return self.model.embed()
        read = self.rows_read(users, positives, negatives)
        return self.model(self.neighbourhoods.sample({kind: index.cpu() for kind, index in read.items()})
                          .to(self.device))

    def rows_read(self, users: np.ndarray, positives: np.ndarray, negatives: np.ndarray
                  ) -> dict[str, torch.Tensor]:
        """Distinct global indices of the users and songs a loss over these pairs reads: the
        users; their positives, negatives and attended history songs."""
        batch_users = torch.from_numpy(np.unique(users)).to(self.device)
        attended = self.model.attended_songs()[0].index_select(0, batch_users)
        songs = torch.unique(torch.cat([torch.from_numpy(positives).to(self.device),
                                        torch.from_numpy(negatives).to(self.device).reshape(-1),
                                        attended.reshape(-1)]))
        return {"user": batch_users, "song": songs}

    def _step_backward(self, users: np.ndarray, positives: np.ndarray, negatives: np.ndarray,
                       hours: np.ndarray) -> float:
        """One step's gradients from one message-passing pass; the loss of a batch larger
        than LOSS_CHUNK pairs is taken chunk by chunk, each against detached copies of only
        the rows it reads, their gradients gathered into one buffer per table that then
        flows back through the graph once: memory follows the chunk, and a chunk's cost
        its own rows, not the graph. Returns the batch's loss."""
        def to(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(array).to(self.device)

        def loss(rows: slice, z: dict[str, torch.Tensor]) -> torch.Tensor:
            return self.model.calculate_loss(to(users[rows]), to(positives[rows]), to(negatives[rows]),
                                             self.spec.l2, hardest=self.spec.hard_negatives, z=z,
                                             hours=to(hours[rows]))

        z = self.message_pass(users, positives, negatives)
        if len(users) <= LOSS_CHUNK:
            whole = loss(slice(None), z)
            whole.backward()
            return float(whole.item())
        tables = [table for table in ROW_TABLES if z[table].requires_grad]
        gradients = {table: torch.zeros_like(z[table]) for table in tables}
        total = 0.0
        for start in range(0, len(users), LOSS_CHUNK):
            rows = slice(start, start + LOSS_CHUNK)
            read = self.rows_read(users[rows], positives[rows], negatives[rows])
            with self.chunk_rows.subset(z, read) as (chunk, where):
                part = loss(rows, chunk) * (len(users[rows]) / len(users))
                part.backward()
                total += float(part.item())
                for table in tables:
                    if chunk[table].grad is not None:
                        gradients[table].index_add_(0, where[node_kind(table)], chunk[table].grad)
        torch.autograd.backward([z[table] for table in tables], [gradients[table] for table in tables])
        return total

    @torch.no_grad()
    def rank(self, relevant: UserSongs, exclude: UserSongs | None,
             exported: LoadedModel | None = None) -> Ranked:
        """Rank as the exported model ranks (cold-start rules included): what is validated
        and tested is what `engine recommend` serves from these weights, through the same
        kernel. Validation exports the current weights and ranks on torch's arrays (several
        threads; the scores agree with numpy's to float rounding); the final figures rank the
        model the run publishes (``exported``, ``final_export``) on numpy's, as `engine
        evaluate` does."""
        if exported is None:
            ranked_users = np.flatnonzero(relevant.counts() > 0)
            return rank_served(LoadedModel(serving_arrays(self.model, ranked_users), None), relevant,
                               exclude, k=K, backend="torch")
        return rank_served(exported, relevant, exclude, k=K)

    def final_export(self) -> LoadedModel:
        """The final weights exported once (the arrays kept to publish) and loaded once for
        every figure of the run."""
        self.exported = serving_arrays(self.model)
        return LoadedModel(self.exported, None)

    def _save(self, name: str, epoch: int) -> Path:
        path = self.out_dir / name
        save_checkpoint(self.model, path, {"trainer": self.name, "epoch": epoch,
                                           "spec": self.spec.as_dict()})
        self.files[name.removesuffix(".pt")] = name
        return path

    def _write_reports(self, result: TrainingResult) -> None:
        """curves.png, split.parquet, then metrics.json, which lists every file of the run
        (names within the run's directory)."""
        if self.history:
            curves = self.out_dir / "curves.png"
            plot_history(self.history, curves, title=f"{self.spec.model} ({self.name} trainer)")
            result.files["curves"] = curves.name
        assignment = self.out_dir / "split.parquet"
        with atomic_file(assignment) as tmp:
            pq.write_table(self.split.assignment(), tmp)
        result.files["split"] = assignment.name
        metrics = self.out_dir / "metrics.json"
        result.files["metrics"] = metrics.name
        with atomic_file(metrics) as tmp:
            tmp.write_text(json.dumps(result.as_dict(), indent=2) + "\n")


class SimpleTrainer(BaseTrainer):
    """All interactions, fixed learning rate, loss and Recall@10 on the training songs."""

    name = "simple"

    def parts(self, dataset: Dataset) -> Split:
        empty = dataset.interactions.slice(0, 0)
        return Split(dataset.interactions, empty, empty)

    def on_start(self) -> None:
        self.train_matrix = self.train_pairs.matrix()

    def epoch_metrics(self) -> dict[str, float]:
        ranked = self.rank(self.train_matrix, exclude=None)
        return {"train_recall@10": ranked.recall}

    def after_epoch(self, epoch: int, metrics: dict[str, float]) -> bool:
        self.best_epoch = epoch
        return False

    def final_metrics(self) -> dict[str, float]:
        ranked = self.rank(self.train_matrix, None, self.final_export())
        return {"train_recall@10": ranked.recall, "train_ndcg@10": ranked.ndcg}


class AdvancedTrainer(BaseTrainer):
    """Per-user 70/15/15 split, early stopping on validation Recall@10, ReduceLROnPlateau,
    best and periodic checkpoints, test Recall@10 and NDCG@10 of the best epoch."""

    name = "advanced"

    def parts(self, dataset: Dataset) -> Split:
        return split_interactions(dataset.interactions, self.spec.validation_share,
                                  self.spec.test_share, seed=self.spec.seed,
                                  by_time=self.spec.split == "temporal")

    def on_start(self) -> None:
        self.known_train = self.train_pairs.matrix()
        validation = Pairs(self.split.validation, self.bundle.ids).matrix()
        self.validation = validation.sampled(self.spec.validation_users, self.spec.seed)
        self.test = Pairs(self.split.test, self.bundle.ids).matrix()
        self.known_before_test = self.known_train.merged(validation)
        self.best_score = -1.0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stale = 0
        if self.model.trainable:
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, mode="max", factor=0.5,
                patience=max(1, self.spec.patience // (2 * self.spec.validate_every)))

    def epoch_metrics(self) -> dict[str, float]:
        ranked = self.rank(self.validation, self.known_train)
        return {VALIDATION_METRIC: ranked.recall, "val_ndcg@10": ranked.ndcg}

    def after_epoch(self, epoch: int, metrics: dict[str, float]) -> bool:
        score = metrics.get(VALIDATION_METRIC)
        if score is not None:
            self.scheduler.step(score)
            if score > self.best_score:
                self.best_score, self.best_epoch, self.stale = score, epoch, 0
                self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            else:
                self.stale += self.spec.validate_every
        if self.spec.checkpoint_every and epoch % self.spec.checkpoint_every == 0:
            # keep only the latest periodic checkpoint
            for older in self.out_dir.glob("checkpoint-epoch-*.pt"):
                older.unlink()
            self._save(f"checkpoint-epoch-{epoch}.pt", epoch)
        return self.stale >= self.spec.patience

    def final_metrics(self) -> dict[str, float]:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
            # Kept in memory while training (a save per improvement costs seconds); the
            # periodic checkpoints are what an interrupted run leaves in its staging directory.
            self._save("best.pt", self.best_epoch)
        # Held-out test songs are ranked against everything but the songs already known
        # (training and validation); message passing still sees training edges only.
        exported = self.final_export()
        ranked = self.rank(self.test, self.known_before_test, exported)
        validation = (self.best_score if self.best_state is not None
                      else self.rank(self.validation, self.known_train, exported).recall)
        figures = {"recall@10": ranked.recall, "ndcg@10": ranked.ndcg,
                   "users": len(ranked.users), "val_recall@10": validation}
        if self.spec.context or self.spec.split == "temporal":
            # one ranking per (listener, hour): only where context is what is being measured
            in_context = rank_in_context(exported, self.split.test, self.bundle.ids, self.known_before_test)
            figures.update({"context_recall@10": in_context.recall, "context_ndcg@10": in_context.ndcg,
                            "context_groups": len(in_context.users)})
        return figures


TRAINERS: dict[str, type[BaseTrainer]] = {"simple": SimpleTrainer, "advanced": AdvancedTrainer}
