"""Progress on stderr with rich when it is a terminal; silent otherwise."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from domain.ports import SilentProgress


class RichProgress:
    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True)
        self._task: TaskID | None = None

    def start(self, description: str, total: float | None = None) -> None:
        self.finish()
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, info="")

    def advance(self, amount: float = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)

    def update(self, **fields: Any) -> None:
        if self._task is not None:
            info = "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                             for k, v in fields.items())
            self._progress.update(self._task, info=info)

    def finish(self) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None
            self._progress.stop()


def progress_for(json_output: bool) -> RichProgress | SilentProgress:
    if json_output or not sys.stderr.isatty():
        return SilentProgress()
    return RichProgress()
