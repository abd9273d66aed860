"""`engine serve`: the use cases over HTTP (FastAPI), built on the same container as the CLI.

Every request asks the registry which version is promoted, so a promotion is followed at the
next request while requests in flight finish on the version they started with (the loader
keeps each version it loaded). Errors a client causes answer 4xx with a JSON body
``{"error": ..., "field": ...}``; write routes need the ``X-API-Key`` header.
"""

from __future__ import annotations

import hmac
import logging
import pathlib
import time
from datetime import datetime
from typing import Annotated, Any

import orjson
from dependency_injector import providers
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, Field

from application.recommending import RecommendQuery
from domain.context import epoch_seconds
from domain.errors import CheckpointError, EngineError, InvalidRecord, InvalidSetting, UnknownEntity
from domain.plays import MAX_PLAY_MS
from domain.versions import MAX_VERSION
from entrypoints import rendering

API_VERSION = "v1"
MAX_K = 500
MAX_BATCH_USERS = 1000
MAX_POSTED_PLAYS = 10_000


# Parameter types; at module level, where FastAPI resolves the (postponed) annotations.
K = Annotated[int, Query(ge=1, le=MAX_K, description="how many songs")]
Version = Annotated[int | None, Query(ge=1, le=MAX_VERSION,
                                      description="a registry version; default: the promoted")]
Id = Annotated[str, Path(min_length=1, max_length=256)]
Genres = Annotated[str | None, Query(description="comma-separated genres, for new listeners")]
PromotedVersion = Annotated[int, Path(ge=1, le=MAX_VERSION)]
At = Annotated[datetime | None, Query(description="rank for this moment, ISO-8601 (2024-05-01T08:00 "
                                      "is UTC): a model with listening context adds that hour of the "
                                      "week; default: any time")]
Counterfactual = Annotated[bool, Query(description="with the explanation, what would take each song out "
                                                   "of the list (slower: tens of milliseconds a song)")]


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


class ErrorBody(BaseModel):
    error: str = Field(description="what went wrong and what to do")
    field: str | None = Field(default=None, description="the request field at fault, when one is")


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description} for status, description in (
        (400, "a request the engine cannot answer"), (401, "a write without the right X-API-Key"),
        (404, "an unknown listener, song or model version"),
        (422, "a field out of range or of the wrong type"),
        (500, "a bug; please report it"), (503, "no trained model to answer with yet"))}


class PlayIn(BaseModel):
    user_id: str = Field(min_length=1, max_length=256, description="the listener")
    song_id: str | None = Field(default=None, min_length=1, max_length=512,
                                description="the song; or give artist_name and song_name")
    artist_name: str | None = Field(default=None, max_length=512)
    song_name: str | None = Field(default=None, max_length=512)
    ms_played: int = Field(ge=1, le=MAX_PLAY_MS, description="milliseconds listened")
    played_at: str = Field(min_length=1, max_length=64,
                           description="ISO-8601 time of the play; no zone means UTC")
    duration_ms: int | None = Field(default=None, ge=1, le=MAX_PLAY_MS,
                                    description="the song's length; default: its longest play in this post")


class PlaysRequest(BaseModel):
    plays: list[PlayIn] = Field(min_length=1, max_length=MAX_POSTED_PLAYS)


class BatchRequest(BaseModel):
    user_ids: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        min_length=1, max_length=MAX_BATCH_USERS)
    k: int = Field(default=10, ge=1, le=MAX_K)
    explain: bool = False
    include_heard: bool = False


def _field_name(location: tuple | list) -> str:
    """A validation error's location as the client wrote the field: ``plays[0].ms_played``."""
    name = ""
    for part in location:
        if part in ("body", "query", "path", "header"):
            continue
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _status_of(error: EngineError) -> int:
    if isinstance(error, UnknownEntity):
        return 404
    if isinstance(error, CheckpointError):
        return 503  # no model to answer with yet
    if isinstance(error, InvalidSetting | InvalidRecord):
        return 422
    return 400


class _Measured:
    """Pure ASGI middleware timing each HTTP request by its route template (Starlette's
    ``BaseHTTPMiddleware`` costs a task and a stream per request)."""

    def __init__(self, app: Any, record: Any) -> None:
        self.app, self.record = app, record

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.record(route, status, time.perf_counter() - started)


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def create_app(container: Any, api_key: str | None, insecure: bool = False,
               model_kind: str | None = None) -> FastAPI:
    """The HTTP API over ``container``'s use cases. Without ``api_key`` the write routes answer
    401, unless ``insecure`` (which the CLI allows on loopback only). ``model_kind`` (setting
    model.kind) picks the version that answers as `engine recommend` does: the promoted one
    when of that kind, else the newest of it."""
    app = FastAPI(title="engine", version=API_VERSION, responses=_ERRORS,
                  description="Explainable graph-based music recommendations over HTTP.")
    metrics = CollectorRegistry()
    requests = Counter("engine_http_requests", "HTTP requests answered", ["route", "status"],
                       registry=metrics)
    latency = Histogram("engine_http_request_seconds", "Time to answer a request", ["route"],
                        registry=metrics, buckets=(.002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5))
    errors = Counter("engine_http_errors", "Requests answered with an error status", ["route", "status"],
                     registry=metrics)
    served_version = Gauge("engine_model_version", "The promoted model version answering",
                           registry=metrics)
    # every request asks for the promoted version: one registry read a second serves them all
    registry = container.served_registry()
    container.model_registry.override(providers.Object(registry))

    def measured(route: str, status: int, seconds: float) -> None:
        requests.labels(route, str(status)).inc()
        latency.labels(route).observe(seconds)
        if status >= 400:
            errors.labels(route, str(status)).inc()

    app.add_middleware(_Measured, record=measured)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"error": error.message, "field": error.field}, status_code=error.status)

    @app.exception_handler(EngineError)
    async def _engine_error(request: Request, error: EngineError) -> JSONResponse:
        return JSONResponse({"error": str(error), "field": getattr(error, "field", None)},
                            status_code=_status_of(error))

    @app.exception_handler(Exception)
    async def _bug(request: Request, error: Exception) -> JSONResponse:
        logging.getLogger("engine.serve").exception("internal error on %s", request.url.path)
        return JSONResponse({"error": f"internal error: {type(error).__name__}; please report it",
                             "field": None}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        field = _field_name(first.get("loc", ()))
        return JSONResponse({"error": f"{field or 'request'}: {first.get('msg', 'invalid')}",
                             "field": field or None}, status_code=422)

    def require_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if insecure:
            return
        if api_key is None:
            raise ApiError(401, "write routes need an API key: set serve.api_key (ENGINE_SERVE__API_KEY) "
                                "and send it in X-API-Key, or start with --insecure on loopback")
        if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), api_key.encode()):
            raise ApiError(401, "missing or wrong X-API-Key", "X-API-Key")

    page = (pathlib.Path(__file__).parent / "web" / "index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home() -> HTMLResponse:
        """A page to look at: a listener's recommendations with their reasons, and the versions."""
        return HTMLResponse(page)

    @app.get(f"/{API_VERSION}/users")
    async def listeners(prefix: Annotated[str, Query(max_length=256)] = "", limit: K = 20,
                        model_version: Version = None) -> Response:
        """Listeners the model answers for whose id starts with ``prefix`` (to find one)."""
        return _json({"users": container.find_listeners().execute(prefix, limit, model_version)})

    @app.get("/health/live")
    def live() -> dict[str, str]:
        return {"status": "live"}

    @app.get("/health/ready")
    def ready() -> JSONResponse:
        try:
            version = registry.promoted()
            if version is not None:
                container.model_loader().load(version)
        except EngineError as error:
            return JSONResponse({"status": "not ready", "reason": str(error)}, status_code=503)
        if version is None:
            return JSONResponse({"status": "not ready", "reason": "no model version is promoted; run "
                                 "`engine train`"}, status_code=503)
        served_version.set(version.version)
        return JSONResponse({"status": "ready", "model_version": version.version, "model": version.kind})

    @app.get(f"/{API_VERSION}/users/{{user_id}}/recommendations")
    async def recommendations(user_id: Id, k: K = 10, explain: bool = False, include_heard: bool = False,
                              genres: Genres = None, model_version: Version = None,
                              counterfactual: Counterfactual = False, at: At = None) -> Response:
        # Read routes run on the event loop: a few milliseconds of numpy each, which a thread
        # hand-off would only add to.
        wanted = tuple(g.strip() for g in genres.split(",") if g.strip()) if genres else ()
        result = container.recommend().execute(
            RecommendQuery(user_id, k, model_kind, include_heard, explain, wanted, model_version,
                           counterfactual, None if at is None else epoch_seconds(at)))
        return _json(rendering.recommendation_list_dict(result))

    @app.post(f"/{API_VERSION}/recommendations")
    def batch(body: BatchRequest, model_version: Version = None) -> Response:
        use_case = container.recommend()
        return _json({"results": [rendering.recommendation_list_dict(use_case.execute(RecommendQuery(
            user, body.k, model_kind, body.include_heard, body.explain, (), model_version)))
            for user in body.user_ids]})

    @app.get(f"/{API_VERSION}/users/{{user_id}}/songs/{{song_id}}/explanation")
    async def explanation(user_id: Id, song_id: Id, model_version: Version = None, at: At = None
                          ) -> Response:
        explained = container.explain().execute(user_id, song_id, model_kind, None, model_version,
                                                None if at is None else epoch_seconds(at))
        return _json(rendering.explained_song_dict(explained))

    @app.get(f"/{API_VERSION}/songs/{{song_id}}/similar")
    async def similar(song_id: Id, k: K = 10, model_version: Version = None) -> Response:
        result = container.similar_songs().execute(song_id, k, model_kind, model_version)
        return _json({"song_id": song_id, "model": result.model, "version": result.version,
                      "similar": [rendering.recommendation_dict(r) for r in result.recommendations]})

    @app.post(f"/{API_VERSION}/plays", dependencies=[Depends(require_key)])
    def plays(body: PlaysRequest) -> dict[str, Any]:
        """Store plays (all or none; a play already stored counts once) and fold their listeners
        into the promoted model: their next recommendations read these plays."""
        recorded = container.record_plays().execute([play.model_dump() for play in body.plays])
        return recorded.as_dict()

    @app.get(f"/{API_VERSION}/models")
    def models() -> list[dict[str, Any]]:
        return [v.as_dict() for v in registry.versions()]

    @app.post(f"/{API_VERSION}/models/{{version}}/promote", dependencies=[Depends(require_key)])
    def promote(version: PromotedVersion) -> dict[str, Any]:
        promoted = registry.promote(version)
        served_version.set(promoted.version)
        return promoted.as_dict()

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics).decode(),
                                 media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def app_from_environment() -> FastAPI:
    """The app of one `engine serve --workers N` process, from the settings the parent left in
    the environment."""
    import os

    from entrypoints.container import build_container
    from entrypoints.settings import load_settings

    settings = load_settings()
    return create_app(build_container(settings.as_container_config()), settings.serve.api_key,
                      insecure=os.environ.get("ENGINE_SERVE_INSECURE") == "1",
                      model_kind=settings.chosen_model_kind)
