"""Typed settings: defaults < engine.toml < ENGINE_* environment < CLI flags."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from domain.errors import InvalidSetting, first_line
from domain.training import (
    MODEL_SECTION,
    Device,
    InvalidSpec,
    MessagePassing,
    ModelKind,
    SplitKind,
    TrainerKind,
    TrainingSpec,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - pydantic-settings reads TOML with tomli before 3.11
    import tomli as tomllib

DEFAULT_CONFIG_FILE = Path("engine.toml")


class _Section(BaseModel):
    # nan and inf are never a setting; unknown keys are typos
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


class StorageSettings(_Section):
    backend: Literal["parquet", "sqlite", "postgresql"] = "parquet"
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL for sqlite/postgresql; default sqlite:///DATA_DIR/engine.db")

    @model_validator(mode="after")
    def _postgresql_needs_a_url(self) -> StorageSettings:
        if self.backend == "postgresql" and not self.url:
            raise ValueError("the postgresql backend needs storage.url (--db-url, ENGINE_STORAGE__URL), "
                             "e.g. postgresql+psycopg://user:password@host/engine")
        return self


class ServeSettings(_Section):
    api_key: str | None = Field(
        default=None, description="the key write routes of `engine serve` require in X-API-Key")


# Defaults and limits live once, in domain.training.TrainingSpec; settings only layer the
# sources and name the setting a problem is in.
_SPEC = TrainingSpec()


class ModelSettings(_Section):
    kind: ModelKind = _SPEC.model
    alpha: float = Field(default=_SPEC.alpha, description="weight of the collaborative score in gat-enhanced")
    members: int = Field(default=_SPEC.members,
                         description="independently trained copies of a GAT model whose scores are averaged")
    context: bool = Field(default=_SPEC.context,
                          description="GAT models: learn the hour of the week of plays (listening context)")


class TrainingSettings(_Section):
    trainer: TrainerKind = _SPEC.trainer
    epochs: int = _SPEC.epochs
    lr: float = _SPEC.lr
    batch_size: int = _SPEC.batch_size
    l2: float = _SPEC.l2
    negatives: int = Field(default=_SPEC.negatives, description="negative songs per positive in BPR")
    hard_negatives: bool = Field(default=_SPEC.hard_negatives,
                                 description="BPR on the highest-scored of the sampled negatives only")
    ema_decay: float = Field(default=_SPEC.ema_decay,
                             description="decay of the weights' moving average; 0 turns it off")
    patience: int = _SPEC.patience
    validate_every: int = Field(default=_SPEC.validate_every,
                                description="epochs between rankings of the validation part")
    seed: int = _SPEC.seed
    device: Device = _SPEC.device
    checkpoint_every: int = _SPEC.checkpoint_every
    validation_share: float = _SPEC.validation_share
    test_share: float = _SPEC.test_share
    validation_users: int = Field(default=_SPEC.validation_users,
                                  description="users ranked in each validation, a seeded sample; 0: all")
    split: SplitKind = Field(default=_SPEC.split,
                             description="random, or temporal: each user's newest discoveries are the test")
    message_passing: MessagePassing = Field(
        default=_SPEC.message_passing,
        description="full: every step over the whole graph; sampled: over the batch's sampled "
                    "neighbourhoods; auto: sampled where a full-graph run would not fit in memory")
    fanout: int = Field(default=_SPEC.fanout,
                        description="sampled message passing: most edges into a node per relation and hop")




class SpecProblem(ValueError):
    """A training setting the spec refused, already named as the user sets it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENGINE_", env_nested_delimiter="__",
                                      extra="forbid", allow_inf_nan=False)

    data_dir: Path = Path("engine-data")
    storage: StorageSettings = StorageSettings()
    model: ModelSettings = ModelSettings()
    training: TrainingSettings = TrainingSettings()
    serve: ServeSettings = ServeSettings()

    @model_validator(mode="after")
    def _data_dir_is_a_directory(self) -> Settings:
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise ValueError(f"data_dir {self.data_dir} is a file; give a directory (it is created "
                             "when missing)")
        return self

    @model_validator(mode="after")
    def _training_spec_holds(self) -> Settings:
        """Every setting of a training run checked by the spec itself, when settings load."""
        try:
            self.training_spec()
        except InvalidSpec as error:
            section = "model" if error.setting in MODEL_SECTION else "training"
            raise SpecProblem(f"{_where((section, MODEL_SECTION.get(error.setting, error.setting)))}: "
                              f"{error.problem}") from None
        return self

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def graph_path(self) -> Path:
        return self.data_dir / "graph" / "graph.pt"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    def rejects_path(self, source: Path) -> Path:
        """Where an ingest of ``source`` lists the rows it rejected, unless told otherwise."""
        return self.data_dir / "rejects" / f"{source.name}.rejects.csv"

    def training_spec(self) -> TrainingSpec:
        return TrainingSpec(model=self.model.kind, alpha=self.model.alpha, members=self.model.members,
                            context=self.model.context, **self.training.model_dump())


    @property
    def chosen_model_kind(self) -> str | None:
        """model.kind when a file or the environment sets it; None lets the promoted version answer."""
        return self.model.kind if "kind" in self.model.model_fields_set else None

    @property
    def database_url(self) -> str:
        return self.storage.url or f"sqlite:///{self.data_dir / 'engine.db'}"

    def as_container_config(self) -> dict[str, Any]:
        config = self.model_dump()
        config["store_dir"] = self.store_dir
        config["models_dir"] = self.models_dir
        config["storage"]["url"] = self.database_url
        return config


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings; ``overrides`` are CLI flags (nested dicts), None means not given."""
    toml_file = config_file or DEFAULT_CONFIG_FILE
    if config_file is not None and not config_file.is_file():
        raise InvalidSetting(f"{config_file}: config file not found" if not config_file.exists()
                             else f"{config_file}: --config needs a TOML file, not a directory")
    if config_file is None and toml_file.exists() and not toml_file.is_file():
        raise InvalidSetting(f"{toml_file}: is not a file; remove it or give --config FILE")

    class _Configured(Settings):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings,
                    TomlConfigSettingsSource(settings_cls, toml_file=toml_file))

    try:
        return _Configured(**_without_none(overrides))
    except ValidationError as error:
        problems = "; ".join(_problem(e) for e in error.errors())
        raise InvalidSetting(f"invalid setting ({problems}); see `engine --help`") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidSetting(f"{toml_file}: not a readable TOML file ({first_line(error)})") from None
    except SettingsError as error:  # e.g. ENGINE_STORAGE='{bad json'
        raise InvalidSetting(f"invalid setting in the environment ({first_line(error)}); nested "
                             "settings take one variable each, e.g. ENGINE_STORAGE__BACKEND=sqlite") from None
    except OSError as error:
        raise InvalidSetting(f"{toml_file}: cannot read settings ({error.strerror})") from None


# setting -> the flag that sets it, where the flag's name is not the setting's
_FLAGS: dict[tuple[str, ...], str] = {
    ("model", "kind"): "--model", ("storage", "url"): "--db-url", ("storage", "backend"): "--backend"}


def _where(loc: tuple[Any, ...]) -> str:
    """A setting as every source spells it: 'training.lr (--lr, ENGINE_TRAINING__LR)'."""
    path = tuple(str(part) for part in loc if not str(part).startswith("function-"))
    if len(path) < 2 and path != ("data_dir",):
        return ".".join(path) or "settings"
    flag = _FLAGS.get(path) or "--" + path[-1].replace("_", "-")
    return f"{'.'.join(path)} ({flag}, ENGINE_{'__'.join(path).upper()})"


def _problem(error: Any) -> str:
    if isinstance(error.get("ctx", {}).get("error"), SpecProblem):
        return str(error["ctx"]["error"])
    return f"{_where(error['loc'])}: {error['msg'].removeprefix('Value error, ')}{_given(error)}"


def _given(error: Any) -> str:
    value = error.get("input")
    return f", got {value!r}" if isinstance(value, str | int | float) and not isinstance(value, bool) else ""



def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            nested = _without_none(value)
            if nested:
                cleaned[key] = nested
        elif value is not None:
            cleaned[key] = value
    return cleaned
