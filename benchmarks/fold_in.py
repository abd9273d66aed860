"""Fold-in against a full retrain, on listeners the model never saw.

10% of the default set's listeners (seeded, among those the split can evaluate) are hidden:
a second data directory holds every other listener's plays (and none of their catalogue
rows), and the same model kind is trained there with the same settings. Each hidden
listener is then folded into that model from the plays the full run trained on (its
training and validation parts, as `POST /v1/plays` or an ingest after training would bring
them), and ranked for their held-out test songs. The model trained on everyone ranks the
same listeners for the same test songs. Both rank as serving ranks, their known songs left
out, with the metrics of `engine evaluate`.

Rows: the full retrain; fold-in as shipped (user embedding mapped from the history's mean
embedding, ``adapters.scoring.fold_in``); two ablations of the user embedding (the history's
mean embedding itself; none, the history attention alone); popularity.

    python benchmarks/fold_in.py [--work DIR] [--model gat-enhanced] [--share 0.1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from adapters.common.user_songs import UserSongs  # noqa: E402
from adapters.evaluation.protocol import TEST, TRAIN, VALIDATION, rank_served  # noqa: E402
from adapters.scoring.fold_in import _history_means, folded  # noqa: E402
from adapters.scoring.served import LoadedModel  # noqa: E402
from adapters.storage.parquet import ParquetInteractionRepository  # noqa: E402
from benchmarks.common import ENGINE, ensure_trained, measure, print_table, served_recommender  # noqa: E402
from domain.ports import Catalogue, Dataset, Listening  # noqa: E402


def _without(dataset: Dataset, hidden: pa.Array) -> Dataset:
    """The dataset as if the hidden listeners had never been ingested."""
    def keep(table: pa.Table) -> pa.Table:
        return table.filter(pc.invert(pc.is_in(table.column("user_id"), value_set=hidden)))

    tables = dict(dataset.catalogue.tables)
    for name in ("users", "user_preferences"):
        tables[name] = keep(tables[name])
    return Dataset(Catalogue(tables), keep(dataset.interactions), dataset.sources)


def _relevant(model: LoadedModel, pairs: pa.Table) -> UserSongs:
    users = np.array([model.user_index.get(u, -1) for u in pairs.column("user_id").to_pylist()])
    songs = np.array([model.song_index.get(s, -1) for s in pairs.column("song_id").to_pylist()])
    keep = (users >= 0) & (songs >= 0)
    return UserSongs.from_pairs(users[keep], songs[keep], len(model.user_ids), len(model.song_ids))


def _only(matrix: UserSongs, model: LoadedModel, ids: list[str]) -> UserSongs:
    return matrix.keeping(np.array([model.user_index[u] for u in ids if u in model.user_index], np.int64))


def _figures(model: LoadedModel, test: pa.Table, known: pa.Table,
             hidden: list[str]) -> tuple[float, float, int]:
    relevant = _only(_relevant(model, test), model, hidden)
    ranked = rank_served(model, relevant, _relevant(model, known))
    return ranked.recall, ranked.ndcg, len(ranked.users)


def _with_user_embedding(model: LoadedModel, users: list[str], rule: str) -> LoadedModel:
    """An ablation: the folded users' embedding replaced (history mean, or zero)."""
    rows = np.array([model.user_index[u] for u in users], dtype=np.int64)
    user_emb = model.user_emb.copy()
    user_emb[rows] = _history_means(model, rows) if rule == "mean" else 0.0
    model.user_emb = user_emb
    model.refresh_derived()
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--model", default="gat-enhanced")
    parser.add_argument("--share", type=float, default=0.1, help="share of listeners hidden")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="engine-fold-in-"))
    data_dir = ensure_trained(work, args.model)
    full, run = served_recommender(data_dir, args.model)
    dataset = ParquetInteractionRepository(data_dir / "store").load()
    assignment = pq.read_table(run / "split.parquet")
    part = assignment.column("part")
    evaluable = pc.unique(assignment.filter(pc.equal(part, TEST)).column("user_id")).to_pylist()
    rng = np.random.default_rng(0)
    hidden = sorted(rng.choice(sorted(evaluable), size=max(1, round(args.share * len(evaluable))),
                               replace=False).tolist())
    hidden_set = pa.array(hidden, pa.string())

    def of_hidden(table: pa.Table) -> pa.Table:
        return table.filter(pc.is_in(table.column("user_id"), value_set=hidden_set))

    test = of_hidden(assignment.filter(pc.equal(part, TEST)))
    known = of_hidden(assignment.filter(pc.is_in(part, value_set=pa.array([TRAIN, VALIDATION]))))

    hidden_dir = work / f"hidden-{args.share}"
    if not (hidden_dir / "store").exists():
        ParquetInteractionRepository(hidden_dir / "store").save(_without(dataset, hidden_set))
    if not (hidden_dir / "models" / args.model).exists():
        print(f"training {args.model} without {len(hidden)} listeners ...", flush=True)
        measure([ENGINE, "--data-dir", str(hidden_dir), "train", "--model", args.model])
    partial, _ = served_recommender(hidden_dir, args.model)
    base = partial.loaded
    assert not any(u in base.user_index for u in hidden), "hidden listeners leaked into training"

    fold_plays = known.join(dataset.interactions, ["user_id", "song_id"], join_type="inner")
    listening = Listening(fold_plays, dataset.catalogue["songs"])
    started = time.perf_counter()
    shipped, ids = folded(base, listening)
    fold_s = time.perf_counter() - started

    rows = [["full retrain (trained with them)", *_figures(full.loaded, test, known, hidden)]]
    rows.append(["fold-in (shipped: mapped history mean)", *_figures(shipped, test, known, hidden)])
    for rule, name in (("mean", "fold-in, user embedding = history mean"),
                       ("zero", "fold-in, no user embedding (attention only)")):
        variant = _with_user_embedding(folded(base, listening)[0], ids, rule)
        rows.append([name, *_figures(variant, test, known, hidden)])
    popular = folded(base, listening)[0]
    popular.is_gat = False  # scores by popularity alone (the cold-start answer)
    rows.append(["popularity (no fold-in: the cold-start answer)", *_figures(popular, test, known, hidden)])
    print(f"\n{args.model}, default set: {len(hidden)} hidden listeners of {len(evaluable)}, "
          f"{fold_plays.num_rows} plays folded in ({len(ids)} listeners) in {fold_s * 1000:.0f} ms\n")
    print_table(["model", "test Recall@10", "test NDCG@10", "listeners ranked"],
                [[name, f"{r:.4f}", f"{n:.4f}", users] for name, r, n, users in rows])


if __name__ == "__main__":
    main()
