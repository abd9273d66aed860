"""GenerateData and ValidateData: the synthetic data set and its quality report."""

from __future__ import annotations

import time
from pathlib import Path

from domain.errors import InvalidSetting
from domain.model import DataQualityReport, GeneratedData
from domain.ports import (
    DataValidator,
    GenerationSpec,
    Progress,
    SilentProgress,
    SyntheticDataGenerator,
)


class GenerateData:
    def __init__(self, generator: SyntheticDataGenerator) -> None:
        self._generator = generator

    def execute(self, out_dir: Path, spec: GenerationSpec,
                progress: Progress | None = None) -> GeneratedData:
        for name in ("users", "songs", "artists", "genres"):
            if getattr(spec, name) < 1:
                raise InvalidSetting(f"--{name} must be at least 1, got {getattr(spec, name)}")
        if spec.songs < spec.artists:
            raise InvalidSetting(f"--songs ({spec.songs}) must be at least --artists "
                                 f"({spec.artists}) so that every artist has a song")
        started = time.perf_counter()
        rows = self._generator.generate(out_dir, spec, progress or SilentProgress())
        return GeneratedData(str(out_dir), rows, spec, time.perf_counter() - started)


class ValidateData:
    def __init__(self, validator: DataValidator) -> None:
        self._validator = validator

    def execute(self, data_dir: Path, progress: Progress | None = None) -> DataQualityReport:
        return self._validator.validate(data_dir, progress or SilentProgress())
