"""How results look on a terminal and in JSON: pure functions of domain objects."""

from __future__ import annotations

import io
from typing import Any


def ingest_summary(report) -> str:
    if report.skipped:
        return f"skipped {report.source}: already ingested (same content); nothing changed"
    lines = [f"ingested {report.source}: {report.rows_read:,} rows read, {report.rows_rejected:,} "
             f"rejected, repository now holds {report.interactions:,} interactions / "
             f"{report.plays:,} plays ({report.wall_s:.1f}s)"]
    reasons = ", ".join(f"{n} {why}" for why, n in report.reject_reasons.items())
    if report.rejects_file:
        lines.append(f"rejected rows ({reasons}) listed in {report.rejects_file}")
    elif reasons:
        lines.append(f"left out: {reasons}")
    if report.plays_repeated:
        lines.append(f"{report.plays_repeated:,} play(s) counted once: already stored, or given twice "
                     "(the same listener, song and time)")
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)


def explanation_dict(explanation) -> dict[str, Any]:
    return {
        "collaborative_score": explanation.collaborative_score,
        "genre_score": explanation.genre_score,
        "final_score": explanation.final_score,
        "matched_genres": list(explanation.matched_genres),
        "genre_influence": explanation.genre_influence,
        "influential_history": [{"song_id": s, "attention": a}
                                for s, a in explanation.influential_history],
        "popularity_context": explanation.popularity_context,
        "text": explanation.text,
    }


def recommendation_dict(rec) -> dict[str, Any]:
    item = {"rank": rec.rank, "song_id": rec.song_id, "score": rec.score,
            "song_name": rec.song_name, "artist_name": rec.artist_name}
    if rec.explanation is not None:
        item["explanation"] = explanation_dict(rec.explanation)
    return item


def describe(rec) -> str:
    title = rec.song_name or rec.song_id
    by = f" - {rec.artist_name}" if rec.artist_name else ""
    return f"{rec.rank:>3}. {title}{by}  [{rec.song_id}]  score {rec.score:.4f}"


EVALUATION_COLUMNS = (("recall@10", "Recall@10"), ("ndcg@10", "NDCG@10"),
                      ("genre_diversity", "genres/list"), ("genre_coverage", "genre cov"),
                      ("genre_influence", "genre infl"), ("catalogue_coverage", "catalogue cov"),
                      ("diversity", "diversity"), ("novelty", "novelty"))


def evaluation_table(results: list[dict[str, Any]]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="held-out test split (known songs excluded)")
    table.add_column("model")
    for _, header in EVALUATION_COLUMNS:
        table.add_column(header, justify="right")
    table.add_column("score drop: most attended / random edge (top wins)", justify="right")
    for result in results:
        deletion = result.get("deletion_test")
        table.add_row(result["model"], *(f"{result[key]:.4f}" for key, _ in EVALUATION_COLUMNS),
                      _deletion_cell(deletion) if deletion else "-")
    by_type = Table(title="by user type: Recall@10 / NDCG@10 (users)")
    by_type.add_column("model")
    types = sorted({t for r in results for t in r["by_user_type"]})
    for user_type in types:
        by_type.add_column(user_type, justify="right")
    for result in results:
        cells = []
        for user_type in types:
            figures = result["by_user_type"].get(user_type)
            cells.append(f"{figures['recall@10']:.4f} / {figures['ndcg@10']:.4f} ({figures['users']})"
                         if figures else "-")
        by_type.add_row(result["model"], *cells)
    console = Console(width=170, record=True, file=io.StringIO())
    console.print(table)
    console.print(by_type)
    return console.export_text().rstrip()


def _deletion_cell(deletion: dict[str, float]) -> str:
    wins = deletion.get("share_top_attention_beats_random")
    share = f" ({wins:.0%})" if wins is not None else ""
    return f"{deletion['mean_drop_top_attention']:.3f} / {deletion['mean_drop_random_edge']:.3f}{share}"
