"""Model versions: every training run is one, and one of them at a time is promoted."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from domain.errors import InvalidSetting

VersionStatus = Literal["promoted", "retired", "candidate"]
MAX_VERSION = 2**31 - 1  # what every SQL database's integer holds


@dataclass(frozen=True)
class ModelVersion:
    """A training run as the registry remembers it.

    ``artifact`` is the run's directory relative to the models directory; ``status`` is
    ``promoted`` for the one version that answers by default, ``retired`` for versions
    promoted once and since replaced, ``candidate`` for versions never promoted."""

    version: int
    kind: str
    created_at: str
    data_fingerprint: str
    settings: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    artifact: str = ""
    status: VersionStatus = "candidate"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_version(text: str) -> int:
    """A version as users write it: ``3`` or ``v3``."""
    digits = text.strip().removeprefix("v").removeprefix("V")
    if not digits.isdigit() or not 1 <= int(digits) <= MAX_VERSION:
        raise InvalidSetting(f"model version {text!r}: give a version number such as 3 or v3 "
                             "(see `engine models list`)")
    return int(digits)


def data_fingerprint(source_hashes: list[str], interactions: int) -> str:
    """Names the data a model learnt from: the ingested inputs and how many pairs they made."""
    digest = hashlib.sha256("\n".join(sorted(source_hashes)).encode())
    digest.update(f"|{interactions}".encode())
    return digest.hexdigest()[:16]
