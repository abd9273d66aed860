"""The generator past POOL_MAX songs, where each user's songs come from a proposal's
candidates instead of the whole catalogue: memory follows users + songs, behaviour stays."""

from __future__ import annotations

import numpy as np
import pyarrow.csv as pacsv
import pytest

from adapters.sources import synthetic
from adapters.sources.synthetic import SyntheticSeedGenerator
from adapters.sources.synthetic_validation import SyntheticDataValidator
from adapters.sources.synthetic_world import USER_TYPES
from domain.ports import GenerationSpec, SilentProgress

LARGE_CATALOGUE = GenerationSpec(users=300, songs=synthetic.POOL_MAX + 2000, artists=400, genres=12, seed=5)


@pytest.fixture(scope="module")
def large_catalogue_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("large-catalogue")
    SyntheticSeedGenerator().generate(out, LARGE_CATALOGUE, SilentProgress())
    return out


def test_a_large_catalogue_is_sampled_from_candidates_and_still_reproducible(large_catalogue_dir, tmp_path):
    SyntheticSeedGenerator().generate(tmp_path, LARGE_CATALOGUE, SilentProgress())
    for path in large_catalogue_dir.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_each_user_plays_as_many_distinct_songs_as_drawn(large_catalogue_dir):
    """A repeated candidate is never picked twice: each user's distinct songs are the number
    the draw asked for, ceil(plays / replays per song of the user's type)."""
    sessions = pacsv.read_csv(large_catalogue_dir / "raw_sessions.csv").to_pandas()
    types = pacsv.read_csv(large_catalogue_dir / "users.csv").to_pandas().set_index("user_id")["user_type"]
    per_user = sessions.groupby("user_id").agg(plays=("track_id", "size"), songs=("track_id", "nunique"))
    replays = types.loc[per_user.index].map(dict(zip(USER_TYPES, synthetic.REPEATS_PER_SONG, strict=True)))
    assert (per_user["songs"] == np.ceil(per_user["plays"] / replays).astype(int)).all()


def test_a_large_catalogue_passes_every_quality_check(large_catalogue_dir):
    report = SyntheticDataValidator().validate(large_catalogue_dir, SilentProgress())
    assert report.passed, [check for check in report.checks if not check.passed]
    assert report.figures["oracle_lift"] >= 2.0
