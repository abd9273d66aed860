"""Shared by the damaged-input, concurrency and kill tests: the CLI as a user runs it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ENGINE = [sys.executable, "-m", "entrypoints.cli"]
ROOT = Path(__file__).resolve().parents[2]


def _environment() -> dict[str, str]:
    """The caller's environment without its engine settings, with this checkout importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _command(data_dir: Path, args: tuple[object, ...]) -> list[str]:
    return [*ENGINE, "--data-dir", str(data_dir), *map(str, args)]


def run_engine(data_dir: Path, *args: object) -> subprocess.CompletedProcess:
    return subprocess.run(_command(data_dir, args), capture_output=True, text=True, cwd=ROOT,
                          env=_environment())


def start_engine(data_dir: Path, *args: object) -> subprocess.Popen:
    """An engine process left running, for tests of what happens while it works."""
    return subprocess.Popen(_command(data_dir, args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env=_environment())


def store_fingerprint(data_dir: Path) -> str:
    """Digest of everything a store holds (lock files aside), to tell whether a command changed it."""
    digest = hashlib.sha256()
    root = data_dir / "store"
    if root.exists():
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.endswith(".lock"):
                digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def assert_one_line_error(result) -> None:
    """Exit 2 and one line on stderr, of an in-process (click) or a subprocess run."""
    code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert code == 2, (code, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr[-2000:]
    assert result.stderr.startswith("error: ")
