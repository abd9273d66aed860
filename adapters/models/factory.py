"""Model kinds by name, and self-contained checkpoints that load on the CPU."""

from __future__ import annotations

import platform
import warnings
from pathlib import Path
from typing import Any

import torch
import torch_geometric

from adapters.common.atomic import atomic_file
from adapters.graph.pyg_builder import GraphBundle
from adapters.models.base import GraphRecommender
from adapters.models.gat import BasicGATRecommender, EnhancedGATRecommender
from adapters.models.popularity import PopularityRecommender
from domain.errors import CheckpointError, first_line
from domain.training import MODEL_KINDS, check_model_kind

MODEL_CLASSES: dict[str, type[GraphRecommender]] = {
    "popularity": PopularityRecommender,
    "gat-basic": BasicGATRecommender,
    "gat-enhanced": EnhancedGATRecommender,
}
assert tuple(MODEL_CLASSES) == MODEL_KINDS
CHECKPOINT_FORMAT = 3  # 2: GAT layers per member (`members`); 3: songs' genres as slots


def create_model(kind: str, bundle: GraphBundle, **hyper_parameters: Any) -> GraphRecommender:
    check_model_kind(kind)
    return MODEL_CLASSES[kind](bundle, **hyper_parameters)


def save_checkpoint(model: GraphRecommender, path: Path, extra: dict[str, Any]) -> None:
    state = {
        "format": CHECKPOINT_FORMAT,
        "kind": model.kind,
        "hyper_parameters": model.hyper_parameters(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "graph": model.bundle.to_state(),
        # plain strings: a checkpoint holds only what weights_only loading accepts
        "versions": {"torch": str(torch.__version__), "torch_geometric": str(torch_geometric.__version__),
                     "python": platform.python_version()},
        **extra,
    }
    with atomic_file(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> tuple[GraphRecommender, dict[str, Any]]:
    """Rebuild the model on the CPU, whatever device trained it."""
    if not path.exists():
        raise CheckpointError(f"{path}: no checkpoint; run `engine train` first")
    try:
        # weights_only: tensors and plain containers only, so a crafted file cannot run code
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's own advice would be to trust the file
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated, foreign or crafted file
        raise CheckpointError(f"{path}: not a readable engine checkpoint ({_refusal(error)}); "
                              "retrain with `engine train`") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: incompatible checkpoint format; retrain with `engine train`")
    try:
        bundle = GraphBundle.from_state(state["graph"])
        model = create_model(state["kind"], bundle, **state["hyper_parameters"])
        model.load_state_dict(state["state_dict"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as error:
        raise CheckpointError(f"{path}: checkpoint does not fit this version of engine "
                              f"({first_line(error)}); retrain with `engine train`") from None
    model.eval()
    return model, state


def _refusal(error: Exception) -> str:
    """Why torch refused a file, in a few words (its own message runs to a page)."""
    text = str(error)
    if "Weights only load failed" in text:
        named = [line.strip() for line in text.splitlines() if "Unsupported" in line]
        return "it holds objects other than tensors and plain values" + (
            f": {named[0].split('Unsupported', 1)[1][:120].strip()}" if named else "")
    return first_line(error)
