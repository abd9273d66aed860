"""How results look on a terminal and in JSON: pure functions of the use cases' results."""

from __future__ import annotations

import io
from typing import Any

from application.tuning import TuningOutcome
from domain.model import (
    DataQualityReport,
    DeletionTest,
    ExplainedSong,
    Explanation,
    GeneratedData,
    GraphSummary,
    IngestReport,
    ModelEvaluation,
    RecommendAllResult,
    Recommendation,
    RecommendationList,
    RepositoryStats,
)
from domain.training import TrainingResult
from domain.versions import ModelVersion


def _named(model: str, version: int | None) -> str:
    """A model as lists name it: its kind and registry version."""
    return model if version is None else f"{model} v{version}"


def generated_summary(generated: GeneratedData) -> str:
    spec = generated.spec
    return (f"wrote {generated.out_dir}: {generated.rows['raw_sessions.csv']:,} plays by "
            f"{spec.users:,} users over {spec.songs:,} songs, {spec.artists:,} artists, "
            f"{spec.genres} genres (seed {spec.seed}) in {generated.wall_s:.1f}s")


def quality_report(report: DataQualityReport) -> str:
    lines = [f"{'PASS' if c.passed else 'FAIL'}  {c.name}: {c.detail}" for c in report.checks]
    return "\n".join([*lines, "all checks passed" if report.passed else "some checks FAILED"])


def stats_line(stats: RepositoryStats) -> str:
    return "  ".join(f"{k} {v:,}" for k, v in stats.as_dict().items())


def graph_summary(summary: GraphSummary) -> str:
    nodes = ", ".join(f"{n:,} {t}s" for t, n in summary.nodes.items())
    listens = summary.edges.get("user__listens_to__song", 0)
    return (f"graph {summary.path}: {nodes}; {listens:,} listening edges; "
            f"{summary.songs_without_artist} songs without artist, "
            f"{summary.users_without_preferences} users without genre preferences, "
            f"isolated nodes {summary.isolated_nodes}")


def training_summary(result: TrainingResult) -> str:
    test = result.test
    quality = (f"test Recall@10 {test['recall@10']:.4f}, NDCG@10 {test['ndcg@10']:.4f}"
               if "recall@10" in test else f"train Recall@10 {test.get('train_recall@10', 0):.4f}")
    if "context_ndcg@10" in test:
        quality += (f" (at the hour of first play, {test['context_groups']:,} listener-hours: "
                    f"Recall@10 {test['context_recall@10']:.4f}, NDCG@10 {test['context_ndcg@10']:.4f})")
    passing = ", sampled neighbourhoods" if result.message_passing == "sampled" else ""
    return (f"trained {result.model} ({result.trainer}, {result.device}{passing}): "
            f"{result.parameters['total']:,} parameters, best epoch {result.best_epoch} of "
            f"{result.epochs_run}, {quality}, {result.wall_s:.1f}s\n"
            f"checkpoint {result.files.get('model')}; metrics {result.files.get('metrics')}"
            + (f"\nregistered as v{result.version} ({result.status})" if result.version else "")
            + "".join(f"\nnote: {note}" for note in result.notes))


def tuning_dict(outcome: TuningOutcome) -> dict[str, Any]:
    report = outcome.report
    return {"study": report.study, "best_value": report.best_value, "best_params": dict(report.best_params),
            "trials_total": report.trials_total, "trials_complete": report.trials_complete,
            "trials_pruned": report.trials_pruned, "version": outcome.best.version,
            "status": outcome.best.status, "test": outcome.best.test, "settings_file": outcome.settings_file,
            "plots": list(report.plots)}


def tuning_summary(outcome: TuningOutcome) -> str:
    report = outcome.report
    params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in report.best_params.items())
    return (f"study {report.study}: {report.trials_total} trials ({report.trials_complete} complete, "
            f"{report.trials_pruned} pruned); best validation Recall@10 {report.best_value:.4f} "
            f"with {params}\n"
            + training_summary(outcome.best)
            + f"\nsettings written to {outcome.settings_file} (use it as engine.toml)"
            + "".join(f"\nplot: {plot}" for plot in report.plots))


def ingest_summary(report: IngestReport) -> str:
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


def explanation_dict(explanation: Explanation) -> dict[str, Any]:
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
        "counterfactual": None if explanation.counterfactual is None else {
            "k": explanation.counterfactual.k, "rank": explanation.counterfactual.rank,
            "top_song": explanation.counterfactual.top_song,
            "rank_without_top": explanation.counterfactual.rank_without_top,
            "minimal_set": (None if explanation.counterfactual.minimal_set is None
                            else list(explanation.counterfactual.minimal_set)),
            "rank_without_set": explanation.counterfactual.rank_without_set},
    }


def recommendation_dict(rec: Recommendation) -> dict[str, Any]:
    item = {"rank": rec.rank, "song_id": rec.song_id, "score": rec.score,
            "song_name": rec.song_name, "artist_name": rec.artist_name}
    if rec.explanation is not None:
        item["explanation"] = explanation_dict(rec.explanation)
    return item


def describe(rec: Recommendation) -> str:
    title = rec.song_name or rec.song_id
    by = f" - {rec.artist_name}" if rec.artist_name else ""
    return f"{rec.rank:>3}. {title}{by}  [{rec.song_id}]  score {rec.score:.4f}"


def recommendation_list_dict(result: RecommendationList) -> dict[str, Any]:
    return {"user_id": result.user_id, "model": result.model, "version": result.version,
            "cold_start": result.cold_start,
            "notices": list(result.notices),
            "recommendations": [recommendation_dict(r) for r in result.recommendations]}


def recommendation_list(result: RecommendationList) -> str:
    named = _named(result.model, result.version)
    lines = [f"top {len(result.recommendations)} for {result.user_id} ({named}):",
             *(f"note: {n}" for n in result.notices)]
    for rec in result.recommendations:
        lines.append(describe(rec))
        if rec.explanation is not None:
            lines.append("     " + rec.explanation.text.replace("\n", "\n     "))
    return "\n".join(lines)


def all_users_written(written: RecommendAllResult) -> str:
    return (f"wrote {written.rows:,} recommendations ({_named(written.model, written.version)}, top "
            f"{written.k} per user) "
            f"to {written.output}")


def explained_song_dict(explained: ExplainedSong) -> dict[str, Any]:
    payload = {"user_id": explained.user_id, "model": explained.model, "version": explained.version,
               **recommendation_dict(explained.recommendation)}
    if explained.plot is not None:
        payload["plot"] = explained.plot
    return payload


def explained_song(explained: ExplainedSong) -> str:
    rec = explained.recommendation
    text = rec.explanation.text if rec.explanation is not None else "no explanation"
    return (f"{describe(rec)} (rank {rec.rank} for {explained.user_id})\n{text}"
            + (f"\nplot: {explained.plot}" if explained.plot else ""))


LIST_COLUMNS = (("genre_diversity", "genres/list"), ("genre_coverage", "genre cov"),
                ("genre_influence", "genre infl"), ("catalogue_coverage", "catalogue cov"),
                ("diversity", "diversity"), ("novelty", "novelty"),
                ("reasons_distinct", "distinct reasons"), ("attention_peak", "attention peak"))


def evaluation_table(results: list[ModelEvaluation]) -> str:
    from rich.table import Table

    table = Table(title="held-out test split (known songs excluded)")
    k = results[0].k if results else 10
    table.add_column("model")
    for header in (f"Recall@{k}", f"NDCG@{k}", *(header for _, header in LIST_COLUMNS)):
        table.add_column(header, justify="right")
    table.add_column("score drop: most attended / random edge (top wins)", justify="right")
    for result in results:
        table.add_row(_named(result.model, result.version), f"{result.test.recall:.4f}",
                      f"{result.test.ndcg:.4f}",
                      *(f"{getattr(result.lists, key):.4f}" for key, _ in LIST_COLUMNS),
                      _deletion_cell(result.deletion_test) if result.deletion_test else "-")
    by_type = Table(title=f"by user type: Recall@{k} / NDCG@{k} (users)")
    by_type.add_column("model")
    types = sorted({t for r in results for t in r.by_user_type})
    for user_type in types:
        by_type.add_column(user_type, justify="right")
    for result in results:
        cells = []
        for user_type in types:
            figures = result.by_user_type.get(user_type)
            cells.append(f"{figures.recall:.4f} / {figures.ndcg:.4f} ({figures.users})" if figures else "-")
        by_type.add_row(_named(result.model, result.version), *cells)
    tested = [r for r in results if r.counterfactual_test is not None]
    if not tested:
        return _as_text(table, by_type)
    what_if = Table(title=f"counterfactual sets, checked on the changed graph (each top song; out of "
                          f"the top {k})")
    for header in ("model", "users", "set named", "mean size", "validity", "necessity", "sufficiency"):
        what_if.add_column(header, justify="left" if header == "model" else "right")
    for result in tested:
        test = result.counterfactual_test
        assert test is not None

        def share(value: float | None) -> str:
            return "-" if value is None else f"{value:.0%}"

        what_if.add_row(_named(result.model, result.version), str(test.users), share(test.found),
                        "-" if test.mean_set_size is None else f"{test.mean_set_size:.1f}",
                        share(test.validity), share(test.necessity), share(test.sufficiency))
    return _as_text(table, by_type, what_if)


def _deletion_cell(deletion: DeletionTest) -> str:
    wins = deletion.share_top_attention_beats_random
    share = f" ({wins:.0%})" if wins is not None else ""
    return f"{deletion.mean_drop_top_attention:.3f} / {deletion.mean_drop_random_edge:.3f}{share}"


def _as_text(*tables: Any) -> str:
    """rich tables as the plain text a terminal or a pipe shows."""
    from rich.console import Console

    console = Console(width=170, record=True, file=io.StringIO())
    for table in tables:
        console.print(table)
    return console.export_text().rstrip()


def _headline(metrics: dict[str, float]) -> str:
    shown = [f"{name} {metrics[name]:.4f}" for name in ("recall@10", "ndcg@10") if name in metrics]
    return ", ".join(shown) or "-"


def model_versions(versions: list[ModelVersion]) -> str:
    if not versions:
        return "no model versions yet; run `engine train`"
    from rich.table import Table

    table = Table(title="model versions")
    for header in ("version", "kind", "status", "trained (UTC)", "test", "data", "run"):
        table.add_column(header)
    for v in versions:
        table.add_row(f"v{v.version}", v.kind, v.status, v.created_at, _headline(v.metrics),
                      v.data_fingerprint, v.artifact)
    return _as_text(table)


def model_version(version: ModelVersion) -> str:
    lines = [f"v{version.version}: {version.kind}, {version.status}, trained {version.created_at}",
             f"run: {version.artifact}", f"data fingerprint: {version.data_fingerprint}",
             "test: " + (", ".join(f"{k} {v:.4f}" for k, v in version.metrics.items()) or "-")]
    if version.settings:
        lines.append("settings: " + ", ".join(f"{k}={v}" for k, v in version.settings.items()))
    return "\n".join(lines)


def promoted(version: ModelVersion, verb: str) -> str:
    return f"{verb} v{version.version} ({version.kind}): it answers recommend, explain and serve now"


def _figure(value: float | None) -> str:
    """A metric as tables show it: counts whole, shares to four places."""
    if value is None:
        return "-"
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) > 1 else f"{value:.4f}"


def compared_versions(left: ModelVersion, right: ModelVersion) -> str:
    from rich.table import Table

    table = Table(title=f"v{left.version} against v{right.version}")
    table.add_column("")
    table.add_column(f"v{left.version} ({left.kind})", justify="right")
    table.add_column(f"v{right.version} ({right.kind})", justify="right")
    table.add_column("change", justify="right")
    for name in dict.fromkeys([*left.metrics, *right.metrics]):
        a, b = left.metrics.get(name), right.metrics.get(name)
        change = f"{b - a:+.4f}" if a is not None and b is not None else "-"
        table.add_row(name, _figure(a), _figure(b), change)
    for name in sorted(set(left.settings) | set(right.settings)):
        a, b = left.settings.get(name), right.settings.get(name)
        if a != b:
            table.add_row(f"setting {name}", str(a), str(b), "")
    return _as_text(table)
