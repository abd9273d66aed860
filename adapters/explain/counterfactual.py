"""Counterfactual explanations read from the served model: how a recommended song's rank
changes when history songs are taken out of the listener's attended history, re-scored
through the same kernel that ranked it.

- without the most attended song: the song re-ranked once;
- the set: greedily, the history song whose removal drops the song furthest is taken out,
  until the song leaves the top ``k`` (at most the whole attended history; no set when even
  that keeps it there: its rank then rests on the user embedding and the genre match).

Ranks are the list's: among the songs the listener has not heard, the song itself included,
over the whole catalogue as `engine explain` ranks it; a catalogue above the exact limit of
the first stage is ranked within the listener's candidates (``adapters.scoring.retrieval``).
"""

from __future__ import annotations

import numpy as np

from adapters.scoring.retrieval import EXACT_LIMIT
from adapters.scoring.served import LoadedModel
from domain.model import Counterfactual


def counterfactual(model: LoadedModel, user: int, song: int, k: int, top_song: int | None = None,
                   hours: np.ndarray | None = None) -> Counterfactual | None:
    """The counterfactual of ``song`` for ``user`` in a top-``k`` list; None for a model
    without a history attention. ``top_song``: the most attended history song, when known;
    ``hours``: the listener's context the list was ranked in (one hour, or None)."""
    if not model.is_gat:
        return None
    songs = _ranked_songs(model, user, song, hours)

    def ranks(masks: np.ndarray) -> np.ndarray:
        """The song's list rank with the attended history cut to each mask, in one kernel pass."""
        scores = model.score_parts(np.full(len(masks), user), slice(None) if songs is None else songs,
                                   history_masks=masks,
                                   hours=None if hours is None else np.repeat(hours, len(masks))).final
        return model.list_ranks(user, song, np.asarray(scores, dtype=np.float64), songs)

    history, mask = model.attended[user], model.attended_mask[user].copy()
    rank = int(ranks(mask[None])[0])
    if top_song is None:
        attended, _ = model.history_attention(user, song)
        top_song = int(attended[0]) if len(attended) else None
    without_top = None
    if top_song is not None:
        cut = mask & (history != top_song)
        without_top = int(ranks(cut[None])[0])
    removed: list[int] = []
    current, current_rank = mask.copy(), rank
    while current_rank <= k and current.any():
        slots = np.flatnonzero(current)
        variants = np.repeat(current[None], len(slots), axis=0)
        variants[np.arange(len(slots)), slots] = False
        found = ranks(variants)
        best = int(np.argmax(found))  # the first of equal drops: the higher-attended slot order
        current[slots[best]] = False
        removed.append(int(history[slots[best]]))
        current_rank = int(found[best])
    ids = model.song_ids
    left = current_rank > k
    return Counterfactual(k=k, rank=rank, top_song=None if top_song is None else str(ids[top_song]),
                          rank_without_top=without_top,
                          minimal_set=tuple(str(ids[s]) for s in removed) if left else None,
                          rank_without_set=current_rank if left else None)


def _ranked_songs(model: LoadedModel, user: int, song: int, hours: np.ndarray | None
                  ) -> np.ndarray | None:
    """The songs a list of ``user`` is ranked among: the catalogue (None), or their candidates."""
    if len(model.song_ids) <= EXACT_LIMIT:
        return None
    pool = model.retrieval.candidates(np.array([user]), model.heard, model.context_rows(hours))[0]
    return np.unique(np.concatenate([pool[pool >= 0], [song]]))
