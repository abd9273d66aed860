"""Training curves as a PNG (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

from adapters.common.atomic import atomic_file


def plot_history(history: list[dict[str, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    # ranking metrics may be measured on some epochs only (--validate-every)
    metric_names = list(dict.fromkeys(k for h in history for k in h if "@" in k))
    fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(10, 4))
    loss_ax.plot(epochs, [h["loss"] for h in history], marker="o")
    loss_ax.set(title="BPR loss", xlabel="epoch")
    for name in metric_names:
        measured = [h for h in history if name in h]
        metric_ax.plot([h["epoch"] for h in measured], [h[name] for h in measured], marker="o", label=name)
    metric_ax.set(title="ranking quality", xlabel="epoch")
    metric_ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
