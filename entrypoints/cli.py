"""The `engine` command line: take a use case from the container, run it, render it."""

from __future__ import annotations

import json
import logging
import os
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

import click

from domain.errors import EngineError, first_line
from domain.ports import SOURCE_FORMATS
from domain.training import DEVICES, MESSAGE_PASSING, MODEL_KINDS, SPLIT_KINDS, TRAINER_KINDS
from entrypoints import rendering

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3


class App:
    """Holds global options; builds settings and the container only when a command needs them."""

    def __init__(self, config_file: Path | None, overrides: dict[str, Any]) -> None:
        self._config_file = config_file
        self._overrides = overrides

    @cached_property
    def settings(self):  # noqa: ANN201 - pydantic import stays lazy
        return self.settings_with()

    def settings_with(self, **command_flags: Any):  # noqa: ANN201
        """Settings with a command's own flags layered on top, validated as one."""
        from entrypoints.settings import load_settings

        overrides = {**self._overrides}
        for section, values in command_flags.items():
            overrides[section] = {**overrides.get(section, {}), **values}
        return load_settings(self._config_file, **overrides)

    @cached_property
    def container(self):  # noqa: ANN201
        from entrypoints.container import build_container

        return build_container(self.settings.as_container_config())


class EngineGroup(click.Group):
    """Turns user-caused errors into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EngineError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except OSError as error:  # the file system refused: full disk, no permission, a file in the way
            where = f"{error.filename}: " if error.filename else ""
            click.echo(f"error: {where}{error.strerror or error}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except (click.exceptions.Exit, click.ClickException, click.Abort):  # click's own way out
            raise
        except Exception as error:
            # A bug, not the user's doing: one line by default, the whole traceback with -vv.
            if logging.getLogger().isEnabledFor(logging.DEBUG):
                raise
            click.echo(f"internal error: {type(error).__name__}: {first_line(error)} (run with -vv for the "
                       "traceback, and please report it)", err=True)
            ctx.exit(EXIT_INTERNAL_ERROR)


def emit(as_json: bool, payload: dict[str, Any], human: str) -> None:
    click.echo(json.dumps(payload, default=str) if as_json else human)


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print one JSON object on stdout instead of the summary.")


@click.group(cls=EngineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_file", type=click.Path(path_type=Path),
              help="TOML settings file (default: ./engine.toml when present).")
@click.option("--data-dir", type=click.Path(path_type=Path),
              help="Where the engine keeps its store, graph and models "
                   "[env ENGINE_DATA_DIR; default ./engine-data].")
@click.option("--backend", type=click.Choice(["parquet", "sqlite", "postgresql"]),
              help="Storage backend [env ENGINE_STORAGE__BACKEND; default parquet].")
@click.option("--db-url", help="SQLAlchemy URL for sqlite/postgresql [env ENGINE_STORAGE__URL].")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.version_option(package_name="engine")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, data_dir: Path | None,
        backend: str | None, db_url: str | None, verbose: int) -> None:
    """Explainable graph-based music recommender.

    Typical flow: generate (or bring your own logs) -> ingest -> stats.
    Settings come from defaults, ./engine.toml, ENGINE_* environment variables
    (nested with __, e.g. ENGINE_STORAGE__BACKEND=sqlite) and these flags, in
    that order.
    """
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = App(config_file, {"data_dir": data_dir,
                                "storage": {"backend": backend, "url": db_url}})


@cli.command()
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Directory to write the raw layout into.")
@click.option("--users", default=1000, show_default=True, type=int)
@click.option("--songs", default=5000, show_default=True, type=int)
@click.option("--artists", default=500, show_default=True, type=int)
@click.option("--genres", default=35, show_default=True, type=int)
@click.option("--seed", default=42, show_default=True, type=int,
              help="Same seed, same bytes.")
@click.option("--hourly-tastes", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Make tastes depend on the hour: this share of plays falls at the daily peak of "
                   "the song's genre (each genre has one of four: 08:00, 12:30, 18:30, 22:00 UTC) "
                   "rather than at the listener's own habit; 0 keeps play times independent of "
                   "the songs. For measuring listening context (`engine train --context`).")
@json_option
@click.pass_obj
def generate(app: App, out: Path, users: int, songs: int, artists: int, genres: int, seed: int,
             hourly_tastes: float, as_json: bool) -> None:
    """Generate a synthetic listening data set.

    Plays are drawn from hidden tastes (latent factors, genre affinity,
    popularity), so models can learn personal signal. Same seed, same bytes.
    """
    from domain.model import GenerationSpec
    from entrypoints.progress import progress_for

    spec = GenerationSpec(users=users, songs=songs, artists=artists, genres=genres, seed=seed,
                          hourly_tastes=hourly_tastes)
    generated = app.container.generate_data().execute(out, spec, progress_for(as_json))
    emit(as_json, generated.as_dict(), rendering.generated_summary(generated))


@cli.command()
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False))
@json_option
@click.pass_obj
def validate(app: App, data_dir: Path, as_json: bool) -> None:
    """Check a raw data set's quality and signal.

    Distributions and behavioural patterns, and for generated sets the oracle
    (true taste) against popularity on held-out plays.
    """
    from entrypoints.progress import progress_for

    report = app.container.validate_data().execute(data_dir, progress_for(as_json))
    emit(as_json, report.as_dict(), rendering.quality_report(report))
    if not report.passed:
        sys.exit(1)


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--sessions", type=click.Path(path_type=Path), help="raw_sessions.csv to ingest.")
@click.option("--tracks", type=click.Path(path_type=Path), help="tracks.csv (song metadata).")
@click.option("--genres", type=click.Path(path_type=Path), help="genres.csv.")
@click.option("--artist-genre-ids", "artist_genres_file", type=click.Path(path_type=Path),
              help="artist_genres.csv (seed layout: artist_id, genre_id).")
@click.option("--song-genres", type=click.Path(path_type=Path), help="song_genres.csv.")
@click.option("--user-preferences", type=click.Path(path_type=Path),
              help="user_genre_preferences.csv.")
@click.option("--users", type=click.Path(path_type=Path), help="users.csv (user types).")
@click.option("--format", "source_format", default="seed", show_default=True,
              type=click.Choice(SOURCE_FORMATS),
              help="Layout of PATH: the generator's CSVs, Spotify JSON exports, the Last.fm-1K log, "
                   "the HetRec Last.fm directory (items are artists) or MSSD session logs.")
@click.option("--user", "listener", help="spotify-history: the listener of a single file or directory.")
@click.option("--user-column", help="mssd: the column that identifies listeners [session_id].")
@click.option("--artist-genres", type=click.Path(path_type=Path),
              help="CSV of artist_name -> genres (';'-separated) for sources without genres.")
@click.option("--rejects", type=click.Path(path_type=Path),
              help="Where to write rejected rows [default DATA_DIR/rejects/<file>.rejects.csv].")
@click.option("--strict", is_flag=True, help="Fail, ingesting nothing, if any row is rejected.")
@json_option
@click.pass_obj
def ingest(app: App, path: Path | None, source_format: str, listener: str | None,
           user_column: str | None, artist_genres: Path | None, rejects: Path | None, strict: bool,
           as_json: bool, **files: Path | None) -> None:
    """Ingest listening logs into the repository.

    Formats: the generator's CSV layout, Spotify exports, Last.fm-1K, HetRec, MSSD.

    PATH is a directory or file in the --format's layout; for the seed layout the
    options name files one by one. Bad rows are written to a rejects file with
    their line and reason; the rest is ingested. Content ingested before is skipped.
    """
    from application.ingest_sessions import IngestCommand
    from domain.ports import SourceRequest
    from entrypoints.progress import progress_for

    files["artist_genres"] = files.pop("artist_genres_file")
    given = {role: p for role, p in files.items() if p is not None}
    if path is None and "sessions" not in given:
        raise click.UsageError("give a PATH or --sessions FILE")
    options = {"format": source_format, "user": listener, "user_column": user_column,
               "artist_genres": artist_genres}
    rejects = rejects or app.settings.rejects_path(given.get("sessions") or path)
    request = SourceRequest(path=path, files=given, rejects_path=rejects, options=options)
    report = app.container.ingest_sessions().execute(IngestCommand(request, strict),
                                                     progress_for(as_json))
    emit(as_json, report.as_dict(), rendering.ingest_summary(report))


@cli.command()
@json_option
@click.pass_obj
def stats(app: App, as_json: bool) -> None:
    """Show what the repository holds."""
    stats = app.container.repository().stats()
    emit(as_json, stats.as_dict(), rendering.stats_line(stats))


@cli.command("build-graph")
@json_option
@click.pass_obj
def build_graph(app: App, as_json: bool) -> None:
    """Build the listening graph from the repository.

    Users, songs, artists and genres with every relation, from all ingested
    interactions (`train` builds its own graph from the training split).
    """
    summary = app.container.build_graph().execute(app.settings.graph_path)
    emit(as_json, summary.as_dict(), rendering.graph_summary(summary))


@cli.command()
@click.option("--model", type=click.Choice(MODEL_KINDS),
              help="Model kind [setting model.kind; default gat-basic: it validates best on real "
                   "logs; gat-enhanced wins on the synthetic set].")
@click.option("--trainer", type=click.Choice(TRAINER_KINDS),
              help="simple: all data, fixed LR; advanced: 70/15/15 split, early stopping, LR "
                   "schedule [default advanced].")
@click.option("--epochs", type=int, help="Maximum epochs [default 20].")
@click.option("--lr", type=float, help="Adam learning rate [default 0.01].")
@click.option("--batch-size", type=int, help="BPR triples per step.")
@click.option("--patience", type=int, help="Epochs without validation gain before stopping [5].")
@click.option("--validate-every", type=int,
              help="Rank the validation part (early stopping, learning-rate schedule, best weights) "
                   "every this many epochs and after the last; ranking the whole catalogue for every "
                   "user can cost as much as half an epoch [setting training.validate_every; default 1].")
@click.option("--l2", type=float,
              help="L2 penalty on the embeddings of each batch's users and songs [setting training.l2; "
                   "default 0.001].")
@click.option("--negatives", type=int,
              help="Negative songs sampled per positive [setting training.negatives; default 8]; "
                   "with --hard-negatives, the candidates the hardest is picked from.")
@click.option("--hard-negatives/--all-negatives", default=None,
              help="BPR on the highest-scored of each positive's sampled negatives (dynamic negative "
                   "sampling), or averaged over all of them [default all].")
@click.option("--ema-decay", type=float,
              help="Validate, checkpoint and save an exponential moving average of the weights, "
                   "updated after every step with this decay (0.98: about the last 50 steps); 0 "
                   "turns it off [setting training.ema_decay; default 0].")
@click.option("--alpha", type=float, help="gat-enhanced: weight of the collaborative score [0.8].")
@click.option("--members", type=int,
              help="GAT models: train this many independently initialised copies, each on its own "
                   "loss, and average their scores (an ensemble; each member costs a training of its "
                   "own) [setting model.members; default 1].")
@click.option("--context/--no-context", default=None,
              help="GAT models: learn listening context, an hour-of-day and a day-of-week "
                   "embedding added to the listener's side of the score, from the hour of each "
                   "pair's first play (UTC); then `engine recommend --at TIME` ranks for that hour "
                   "[setting model.context; default off: it did not win on the real logs, "
                   "docs/experiments/context.md].")
@click.option("--split", type=click.Choice(SPLIT_KINDS),
              help="advanced: random (each user's songs at random) or temporal (each user's newest "
                   "discoveries, by first play, are the test, the next newest the validation; needs "
                   "play times) [setting training.split; default random].")
@click.option("--seed", type=int, help="Seed for split, sampling and initialisation [42].")
@click.option("--device", type=click.Choice(DEVICES), help="Where to train [auto].")
@click.option("--validation-share", type=float, help="advanced: share of each user's songs held out "
              "for validation [0.15].")
@click.option("--test-share", type=float, help="advanced: share held out for the test [0.15].")
@click.option("--validation-users", type=int,
              help="advanced: rank the validation songs of this many users (a sample fixed by the "
                   "seed) after each epoch, so one validation costs bounded time on any data; 0 ranks "
                   "every user [setting training.validation_users; default 5000]. The test ranks all.")
@click.option("--message-passing", type=click.Choice(MESSAGE_PASSING),
              help="GAT models: full runs each step's messages over the whole training graph; sampled "
                   "over its batch's sampled neighbourhoods only (at most --fanout edges into a node "
                   "per relation and hop): a step's cost and memory follow the batch, not the graph; "
                   "auto samples only where a full-graph run would not fit in memory (on 2 cores "
                   "full costs less an epoch up to 100x the default set, docs/models.md) "
                   "[setting training.message_passing; default auto].")
@click.option("--fanout", type=int,
              help="Sampled message passing: the most incoming edges of a node kept per relation and "
                   "hop [setting training.fanout; default 20].")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Train data-parallel in this many processes on this machine (torch.distributed: "
                   "each takes a share of every batch, gradients are averaged, the first writes the "
                   "run). Across machines, run `engine train` under torchrun instead (README).")
@click.option("--promote/--no-promote", default=True, show_default=True,
              help="Make the new version the one that answers (else it is registered as a candidate; "
                   "`engine models promote V` later).")
@json_option
@click.pass_obj
def train(app: App, as_json: bool, model: str | None, alpha: float | None, members: int | None,
          context: bool | None, nproc: int, promote: bool, **training: Any) -> None:
    """Train a recommender and register it as a new version.

    BPR loss on the training graph; writes model.pt, serving.npz, metrics.json,
    curves.png and split.parquet in a new run under DATA_DIR/models/MODEL, and
    records the run in the model registry (`engine models list`).
    """
    from entrypoints.progress import progress_for

    settings = app.settings_with(model={"kind": model, "alpha": alpha, "members": members,
                                        "context": context}, training=training)
    spec = settings.training_spec()  # a bad setting is refused here, before any rank starts
    if nproc > 1:
        from entrypoints.launch import run_ranks, without_option

        sys.exit(run_ranks(nproc, without_option(sys.argv[1:], "--nproc")))
    lead = int(os.environ.get("RANK", "0")) == 0
    result = app.container.train_model().execute(spec, settings.models_dir,
                                                  progress_for(as_json or not lead), promote)
    if lead:  # under torchrun every rank runs this command; the first one reports
        emit(as_json, result.as_dict(), rendering.training_summary(result))


@cli.command()
@click.option("--study", required=True, help="The study's name: run the command again (here or on any "
              "machine sharing the database) to add trials to the same study.")
@click.option("--trials", type=click.IntRange(min=1), help="Trials to run now (pruned ones count).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), help="Stop starting trials after "
              "this many seconds.")
@click.option("--model", type=click.Choice(["gat-basic", "gat-enhanced"]),
              help="The model whose settings are searched [setting model.kind; default gat-basic].")
@click.option("--epochs", type=int, help="Maximum epochs of a trial [setting training.epochs; default 20].")
@click.option("--promote/--no-promote", default=False, show_default=True,
              help="Promote the best settings' version (else it is registered as a candidate).")
@json_option
@click.pass_obj
def tune(app: App, study: str, trials: int | None, timeout_s: float | None, model: str | None,
         epochs: int | None, promote: bool, as_json: bool) -> None:
    """Search training settings with Optuna, on the validation split.

    TPE sampling over learning rate, L2, weight averaging, negatives, hardest-negative
    BPR, members and (gat-enhanced) alpha; a trial whose validation Recall@10 falls below
    the median of earlier trials at the same epoch is stopped. The study lives in the
    configured SQL database (DATA_DIR/engine.db, or --db-url), so several processes or
    machines can work on one study. The best settings are trained again and registered
    as a version; they are written to DATA_DIR/tuning/STUDY.toml (an engine.toml), beside
    the study's history and the settings' importances (PNG).
    """
    from entrypoints.progress import progress_for

    settings = app.settings_with(model={"kind": model}, training={"epochs": epochs})
    outcome = app.container.tune_model().execute(
        study, settings.training_spec(), trials, timeout_s, settings.models_dir,
        settings.data_dir / "tuning", progress_for(as_json), promote)
    emit(as_json, rendering.tuning_dict(outcome), rendering.tuning_summary(outcome))


model_option = click.option(
    "--model", type=click.Choice(MODEL_KINDS),
    help="Which kind of model answers: the promoted version when it is of this kind, else the "
         "newest of the kind [setting model.kind; default: the promoted version].")


def _version_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    from domain.versions import parse_version

    return None if value is None else parse_version(value)


version_option = click.option(
    "--model-version", "version", callback=_version_callback, metavar="V",
    help="The registry version that answers, e.g. 3 or v3 (`engine models list`) "
         "[default: the promoted version].")


at_option = click.option(
    "--at", metavar="TIME",
    help="Rank for this moment, ISO-8601 (2024-05-01T08:00 is UTC; 2024-05-01T08:00+02:00): a model "
         "trained with --context adds that hour of the week; other models ignore it [default: any "
         "time].")


def _moment(at: str | None) -> int | None:
    from domain.context import parse_moment

    return None if at is None else parse_moment(at)


@cli.command()
@click.option("--user", "user_id", help="External user id to recommend for.")
@click.option("-k", "k", default=10, show_default=True, type=int, help="How many songs.")
@click.option("--explain", is_flag=True, help="Say why, from the model's attention and genres.")
@click.option("--counterfactual", is_flag=True,
              help="With --explain: also what would take each song out of the list (its rank without "
                   "the most attended history song, and the history songs whose removal drops it out).")
@click.option("--include-heard", is_flag=True, help="Allow songs the user has already heard.")
@at_option
@click.option("--genres", help="For new users: comma-separated genres to draw popular songs from.")
@click.option("--all-users", is_flag=True, help="Top-k for every user, written to --output.")
@click.option("--output", type=click.Path(path_type=Path), help="With --all-users: .csv or .parquet.")
@model_option
@version_option
@json_option
@click.pass_obj
def recommend(app: App, user_id: str | None, k: int, explain: bool, counterfactual: bool,
              include_heard: bool, at: str | None, genres: str | None, all_users: bool,
              output: Path | None, model: str | None, version: int | None, as_json: bool) -> None:
    """Recommend songs to a user, with reasons.

    Songs the user has not heard, best first; --explain adds why; new users
    get popular songs; --all-users writes everyone's top k to a file.
    """
    from application.recommending import RecommendQuery
    from entrypoints.progress import progress_for

    model = model or app.settings.chosen_model_kind
    if all_users:
        if output is None:
            raise click.UsageError("--all-users needs --output FILE (.csv or .parquet)")
        written = app.container.recommend_all().execute(k, model, output, include_heard,
                                                        progress_for(as_json), version)
        emit(as_json, written.as_dict(), rendering.all_users_written(written))
        return
    if not user_id:
        raise click.UsageError("give --user USER_ID or --all-users")
    wanted = tuple(g.strip() for g in genres.split(",") if g.strip()) if genres else ()
    result = app.container.recommend().execute(
        RecommendQuery(user_id, k, model, include_heard, explain, wanted, version, counterfactual,
                       _moment(at)))
    emit(as_json, rendering.recommendation_list_dict(result), rendering.recommendation_list(result))


@cli.command()
@click.option("--user", "user_id", required=True, help="External user id.")
@click.option("--song", "song_id", required=True, help="External song id.")
@click.option("--plot", type=click.Path(path_type=Path), help="Write the attention picture (PNG).")
@at_option
@model_option
@version_option
@json_option
@click.pass_obj
def explain(app: App, user_id: str, song_id: str, plot: Path | None, at: str | None, model: str | None,
            version: int | None, as_json: bool) -> None:
    """Explain one user-song score, optionally drawn.

    Collaborative and genre parts, the history songs that carry it (with their
    attention) and popularity context; --plot draws the attention picture.
    """
    model = model or app.settings.chosen_model_kind
    explained = app.container.explain().execute(user_id, song_id, model, plot, version, _moment(at))
    emit(as_json, rendering.explained_song_dict(explained), rendering.explained_song(explained))


@cli.command()
@click.option("--model", "models", multiple=True,
              type=click.Choice(MODEL_KINDS),
              help="Evaluate only these kinds (repeatable) [default: popularity and every trained "
                   "kind: the promoted version, the newest of the other kinds].")
@version_option
@json_option
@click.pass_obj
def evaluate(app: App, models: tuple[str, ...], version: int | None, as_json: bool) -> None:
    """Compare trained models on held-out listening.

    Recall@10, NDCG@10, genre diversity and coverage, genre influence, catalogue
    coverage, diversity, novelty and an attention deletion test, by user type.
    """
    from entrypoints.progress import progress_for

    results = app.container.evaluate().execute(models, progress_for(as_json), version)
    emit(as_json, {"models": [r.as_dict() for r in results]}, rendering.evaluation_table(results))


LOOPBACK = ("127.0.0.1", "localhost", "::1")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Server processes (each loads the promoted model once).")
@click.option("--insecure", is_flag=True,
              help="Let write routes answer without an API key; only on a loopback --host.")
@click.pass_obj
def serve(app: App, host: str, port: int, workers: int, insecure: bool) -> None:
    """Answer over HTTP: recommendations, explanations, similar songs, models.

    FastAPI on uvicorn; the OpenAPI schema is at /docs and /openapi.json,
    Prometheus metrics at /metrics. Write routes need the key set in
    serve.api_key (ENGINE_SERVE__API_KEY), sent as the X-API-Key header.
    """
    import uvicorn

    if insecure and host not in LOOPBACK:
        raise click.UsageError(f"--insecure serves write routes without a key: only on a loopback host "
                               f"({', '.join(LOOPBACK)}), not {host}")
    settings = app.settings
    if workers > 1:
        if port == 0:
            raise click.UsageError("--workers needs a --port of its own choosing (not 0)")
        # each worker process builds its own app from the same settings, handed on by environment
        os.environ.update(_settings_environment(settings, insecure))
        click.echo(f"engine serve: listening on http://{host}:{port} ({workers} workers; OpenAPI at /docs)",
                   err=True)
        uvicorn.run("entrypoints.http:app_from_environment", factory=True, host=host, port=port,
                    workers=workers, log_level="warning")
        return
    import socket

    from entrypoints.http import create_app

    served = create_app(app.container, settings.serve.api_key, insecure, settings.chosen_model_kind)
    server = uvicorn.Server(uvicorn.Config(served, log_level="warning"))
    # Bound here, so that the line below is true when printed: a client that reads it and
    # connects waits in the backlog until the server takes it (and --port 0 says its port).
    listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind((host, port))
    listening.listen(2048)
    bound = listening.getsockname()[1]
    click.echo(f"engine serve: listening on http://{host}:{bound} (OpenAPI at /docs)", err=True)
    server.run(sockets=[listening])


def _settings_environment(settings: Any, insecure: bool) -> dict[str, str]:
    environment = {"ENGINE_DATA_DIR": str(settings.data_dir),
                   "ENGINE_STORAGE__BACKEND": settings.storage.backend,
                   "ENGINE_STORAGE__URL": settings.database_url}
    if settings.serve.api_key:
        environment["ENGINE_SERVE__API_KEY"] = settings.serve.api_key
    if insecure:
        environment["ENGINE_SERVE_INSECURE"] = "1"
    if settings.chosen_model_kind:
        environment["ENGINE_MODEL__KIND"] = settings.chosen_model_kind
    return environment


@cli.group()
def models() -> None:
    """The model registry: every training run is a version; one is promoted.

    recommend, explain, evaluate and serve answer with the promoted version
    unless told --model-version. The registry lives in the configured SQL
    database (DATA_DIR/engine.db by default, PostgreSQL with --db-url).
    """


def _registry(app: App):  # noqa: ANN202
    return app.container.model_registry()


version_argument = click.argument("version", callback=_version_callback)


@models.command("list")
@json_option
@click.pass_obj
def models_list(app: App, as_json: bool) -> None:
    """Every version, oldest first, with its status and test figures."""
    versions = _registry(app).versions()
    if as_json:
        click.echo(json.dumps([v.as_dict() for v in versions], default=str))
    else:
        click.echo(rendering.model_versions(versions))


@models.command("show")
@version_argument
@json_option
@click.pass_obj
def models_show(app: App, version: int, as_json: bool) -> None:
    """One version: its run, data fingerprint, settings and metrics."""
    found = _registry(app).get(version)
    emit(as_json, found.as_dict(), rendering.model_version(found))


@models.command("promote")
@version_argument
@json_option
@click.pass_obj
def models_promote(app: App, version: int, as_json: bool) -> None:
    """Make version V the one that answers (a running `engine serve` follows)."""
    found = _registry(app).promote(version)
    emit(as_json, found.as_dict(), rendering.promoted(found, "promoted"))


@models.command("rollback")
@json_option
@click.pass_obj
def models_rollback(app: App, as_json: bool) -> None:
    """Promote again the version promoted before the current one."""
    found = _registry(app).rollback()
    emit(as_json, found.as_dict(), rendering.promoted(found, "rolled back to"))


@models.command("compare")
@click.argument("first", callback=_version_callback)
@click.argument("second", callback=_version_callback)
@json_option
@click.pass_obj
def models_compare(app: App, first: int, second: int, as_json: bool) -> None:
    """Two versions' test metrics side by side, and the settings that differ."""
    registry = _registry(app)
    left, right = registry.get(first), registry.get(second)
    emit(as_json, {"versions": [left.as_dict(), right.as_dict()]}, rendering.compared_versions(left, right))


def main() -> None:
    cli(prog_name="engine")


if __name__ == "__main__":
    main()
