"""The attention picture of one explanation: history songs and genres that carried it."""

from __future__ import annotations

from pathlib import Path

from adapters.common.atomic import atomic_file
from domain.model import Recommendation

HISTORY_PLOTTED = 10


def plot_explanation(explained: Recommendation, loaded, user_id: str, out_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    explanation = explained.explanation
    user = loaded.user_index[user_id]
    fig, (history_ax, genre_ax) = plt.subplots(1, 2, figsize=(12, 5))
    if loaded.is_gat:
        songs, attention = loaded.history_attention(user, loaded.song_index[explained.song_id])
        songs, attention = songs[:HISTORY_PLOTTED][::-1], attention[:HISTORY_PLOTTED][::-1]
        labels = [str(loaded.song_names[s] or loaded.song_ids[s])[:28] for s in songs]
        history_ax.barh(labels, attention, color="tab:blue")
        history_ax.set(title=f"attention over {user_id}'s history for this song", xlabel="attention weight")
    else:
        history_ax.text(0.5, 0.5, "popularity model: no attention", ha="center", va="center")
        history_ax.set_axis_off()
    affinity = loaded.user_genre[user]
    genres = [g for g in range(len(loaded.genre_names)) if affinity[g] > 0]
    genres.sort(key=lambda g: float(affinity[g]))  # largest bar on top
    matched = set(explanation.matched_genres)
    genre_ax.barh([loaded.genre_names[g] for g in genres], [float(affinity[g]) for g in genres],
                  color=["tab:orange" if loaded.genre_names[g] in matched else "tab:gray" for g in genres])
    genre_ax.set(title="your genre affinities (orange: genres of this song)", xlabel="affinity")
    title = explained.song_name or explained.song_id
    fig.suptitle(f'"{title}" for {user_id}: final {explanation.final_score:.3f} = '
                 f"collaborative {explanation.collaborative_score:.3f} & genre {explanation.genre_score:.3f}"
                 f" (genre influence {explanation.genre_influence:.0%})")
    fig.tight_layout()
    with atomic_file(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
