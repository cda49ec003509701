"""What a run directory records besides the model: config, command line, git revision, history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from cinesense.config import ExperimentConfig


def git_revision() -> str:
    """The checkout's commit (with ``-dirty`` if there are local changes), or "unknown"."""
    try:
        root = Path(__file__).resolve().parent
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if rev.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=10)
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_json(path: str | Path, data: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return path


def record_run(directory: str | Path, config: ExperimentConfig, argv: list[str] | None = None) -> dict[str, str]:
    """Write ``config.json``, ``command.txt`` and ``git_revision.txt``; return the provenance."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_json(directory / "config.json", config.to_dict())
    command = " ".join(argv if argv is not None else sys.argv)
    (directory / "command.txt").write_text(command + "\n", encoding="utf-8")
    revision = git_revision()
    (directory / "git_revision.txt").write_text(revision + "\n", encoding="utf-8")
    return {"command": command, "git_revision": revision}
