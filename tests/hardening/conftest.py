"""Shared by the damaged-input, concurrency and kill tests: the CLI as a user runs it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ENGINE = [sys.executable, "-m", "entrypoints.cli"]
ROOT = Path(__file__).resolve().parents[2]


def run_engine(data_dir: Path, *args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([*ENGINE, "--data-dir", str(data_dir), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or ROOT, env=env)


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
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr[-2000:]
    assert result.stderr.startswith("error: ")
