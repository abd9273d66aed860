"""Serving artifacts: what answering needs, read off one eval-mode forward pass.

Written beside the checkpoint (``serving.npz``) so that `engine recommend` and
`engine explain` load numpy arrays only, not torch and PyG: the embeddings,
each user's attended history and each member's attention sharpness, popularity and genre
matrices, and the id maps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from adapters.common.atomic import atomic_file
from adapters.graph.pyg_builder import PERFORMS
from adapters.models.base import GraphRecommender
from adapters.models.gat import EnhancedGATRecommender, _GATRecommender
from adapters.serving.loaded_model import SERVING_FORMAT


def export_serving(model: GraphRecommender, path: Path) -> None:
    model.eval()
    bundle = model.bundle
    performs = bundle.data[PERFORMS].edge_index.cpu()
    song_artist = np.full(bundle.data["song"].num_nodes, -1, dtype=np.int64)
    song_artist[performs[1].numpy()] = performs[0].numpy()
    arrays: dict[str, np.ndarray] = {
        "popularity": bundle.song_popularity.cpu().numpy().astype(np.float32),
        "user_genre": bundle.user_genre.cpu().numpy().astype(np.float32),
        "song_genre": bundle.song_genre.cpu().numpy().astype(np.float32),
        "song_artist": song_artist,
        "user_ids": np.array(bundle.ids["user"], dtype=str),
        "song_ids": np.array(bundle.ids["song"], dtype=str),
        "genre_names": np.array(bundle.genre_names, dtype=str),
    }
    if isinstance(model, _GATRecommender):
        with torch.no_grad():
            z = model()
        arrays.update({
            "user_emb": z["user"].cpu().numpy(), "song_emb": z["song"].cpu().numpy(),
            "artist_input": model.embeddings["artist"].weight.detach().cpu().numpy(),
            "attended": z["attended"].cpu().numpy(), "attended_mask": z["attended_mask"].cpu().numpy(),
            "sharpness": model.sharpness.detach().cpu().numpy().astype(np.float32),
        })
    alpha = model.alpha if isinstance(model, EnhancedGATRecommender) else 1.0
    meta = {"format": SERVING_FORMAT, "kind": model.kind, "alpha": alpha}
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_file(path) as tmp, tmp.open("wb") as handle:
        np.savez(handle, **arrays)
