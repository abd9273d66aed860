"""How much of a test is songs nobody played in training, and which model finds them.

On a temporal split each listener's test is their newest discoveries; in a few listeners'
Spotify exports most of those are songs no other listener played ("new finds": 83 % of the
12 exports' test pairs). A model that ranks only songs others played (implicit ALS has no row
for the others) cannot hit them; a graph model reaches them through their artist. For the
newest run of ``--model`` on a data directory, and for tuned implicit ALS and popularity on
the same split: the share of the test that is new finds, the share of each one's top 10s that
are, and its hits on new finds and on songs others played (docs/benchmarks.md, 2026-12-07).
Run: .venv/bin/python benchmarks/new_finds.py DATA_DIR [--model gat-basic] [--no-als]
(after `engine --data-dir DATA_DIR train --split temporal`)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    print_table,
    reference_rankings,
    served_recommender,
    split_parts,
    test_and_known,
)

from adapters.evaluation.protocol import TEST, TRAIN, Ranked, rank_served  # noqa: E402
from adapters.storage.parquet import ParquetInteractionRepository  # noqa: E402


def new_find_row(name: str, ranked: Ranked, test, played: np.ndarray) -> list[object]:
    """A model's figures and where its top 10s and hits fall: new finds or songs others played."""
    listed = ranked.top >= 0
    songs = np.maximum(ranked.top, 0)
    hits = np.take_along_axis(test.dense(ranked.users), songs, 1) & listed
    new = ~played[songs] & listed
    return [name, f"{ranked.recall:.4f}", f"{ranked.ndcg:.4f}",
            f"{new.sum() / max(listed.sum(), 1):.1%}", int((hits & new).sum()), int((hits & ~new).sum())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--model", default="gat-basic")
    parser.add_argument("--no-als", action="store_true",
                        help="leave out implicit ALS (its tuning is the slow part)")
    args = parser.parse_args()

    recommender, run = served_recommender(args.data_dir, args.model)
    loaded = recommender.loaded
    ids = {"user": list(loaded.user_ids), "song": list(loaded.song_ids)}
    parts = split_parts(pq.read_table(run / "split.parquet"), ids)
    test, known = test_and_known(parts)
    played = np.zeros(len(ids["song"]), dtype=bool)
    played[parts[TRAIN].songs[parts[TRAIN].songs >= 0]] = True
    tested = parts[TEST].songs[parts[TEST].songs >= 0]
    print(f"{len(tested):,} test pairs, {np.mean(~played[tested]):.1%} of them songs nobody "
          "played in training")

    dataset = ParquetInteractionRepository(args.data_dir / "store").load()
    assert dataset is not None
    rankings = {f"{args.model} (newest run)": rank_served(loaded, test, known),
                **reference_rankings(parts, dataset.interactions, ids, als=not args.no_als)}
    rows = [new_find_row(name, ranked, test, played) for name, ranked in rankings.items()]
    print_table(["model", "Recall@10", "NDCG@10", "top 10s: new finds", "hits on new finds",
                 "hits on songs others played"], rows)


if __name__ == "__main__":
    main()
