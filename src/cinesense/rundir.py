"""What a run directory records besides the model: config, command line, git revision, history."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cinesense.atomic import atomic_open
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


class RunFolderError(ValueError):
    """``--out`` cannot be written: it is a file, a non-empty folder (without ``--overwrite``), or
    a folder that holds the current directory; the message names the path."""


PARTIAL = ".partial-"  # in the name of the sibling folder a run is written into before it is renamed
REPLACED = ".replaced-"  # in the name of the old run folder while it is swapped out


def check_out_folder(target: str | Path, overwrite: bool = False) -> Path:
    """Raise :class:`RunFolderError` unless ``target`` may become a run folder: missing, an empty
    folder, or (with ``overwrite``) a folder to replace. Returns the absolute target (a symbolic
    link is followed, so the folder it points to is the one replaced)."""
    shown = Path(target)
    path = Path(os.path.abspath(shown))
    if path.is_symlink():
        path = path.resolve()
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"--out {shown}: is a file, not a folder")
    if path.parent == path:
        raise RunFolderError(f"--out {shown}: a run cannot replace the file-system root")
    here = Path.cwd().resolve()
    if path.resolve() == here or path.resolve() in here.parents:
        raise RunFolderError(f"--out {shown}: holds the current directory; give a folder of its own")
    parent = path.parent
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if not parent.is_dir():
        raise RunFolderError(f"--out {shown}: {parent} is a file, not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        held = sorted(p.name for p in path.iterdir())
        listed = ", ".join(held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
        raise RunFolderError(
            f"--out {shown}: folder is not empty (holds {listed}); pass --overwrite to replace it, or choose another folder"
        )
    return path


@contextmanager
def run_folder(target: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Write a run into a fresh sibling folder of ``target`` and put it in ``target``'s place only
    when the block succeeds.

    Yields the temporary folder (``.NAME.partial-XXXX`` beside ``target``). On success the old
    ``target`` (if any; only with ``overwrite`` unless empty) is renamed aside, the new one renamed
    in, and the old one deleted: readers see either the whole old run or the whole new one, never a
    mix. On failure (any exception, Ctrl-C included) the temporary folder is removed and an existing
    ``target`` is left untouched. What the block writes into files must not name the temporary
    folder: record relative paths, or the final ``target``."""
    path = check_out_folder(target, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}{PARTIAL}{os.getpid()}-{secrets.token_hex(4)}"
    temporary.mkdir()  # honours the umask, unlike tempfile.mkdtemp's 0700
    try:
        yield temporary
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    try:
        _replace(temporary, path, Path(target), overwrite)
    except RunFolderError:
        raise  # the target changed under the run: the new run stays in the temporary folder, which the message names
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)  # the old run (if any) is back in place
        raise


def _replace(new: Path, path: Path, shown: Path, overwrite: bool) -> None:
    if not path.exists():
        os.rename(new, path)
        return
    if not path.is_dir():
        raise RunFolderError(f"--out {shown}: became a file during the run; the new run is in {new}")
    if not any(path.iterdir()):
        path.rmdir()
        os.rename(new, path)
        return
    if not overwrite:
        raise RunFolderError(f"--out {shown}: another process filled the folder during the run; the new run is in {new}")
    old = path.parent / f".{path.name}{REPLACED}{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(path, old)
    try:
        os.rename(new, path)
    except BaseException:
        os.rename(old, path)  # put the old run back
        raise
    shutil.rmtree(old, ignore_errors=True)


CHECKPOINTS = ".checkpoints"  # the suffix of the folder beside a run that holds its checkpoints while it runs
RESUME_FILE = "run.json"  # in the checkpoint folder: the command, configs and options, for --resume


class ResumeError(ValueError):
    """``--resume DIR`` has nothing to resume, or what it finds is unreadable; the message names the path."""


def checkpoint_folder(target: str | Path) -> Path:
    """Where the run that will become ``target`` keeps its checkpoints: ``.NAME.checkpoints`` beside
    it (outside the temporary folder, which a failed run removes)."""
    path = Path(os.path.abspath(target))
    return path.parent / f".{path.name}{CHECKPOINTS}"


def save_resume_info(target: str | Path, info: dict[str, Any]) -> Path:
    """Record what ``--resume`` needs to run the same command again (configs as JSON)."""
    folder = checkpoint_folder(target)
    with atomic_open(folder / RESUME_FILE, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(info, ensure_ascii=False, indent=2))
    return folder


def load_resume_info(target: str | Path, command: str) -> dict[str, Any]:
    """What :func:`save_resume_info` recorded for ``target``; ResumeError when there is none."""
    path = checkpoint_folder(target) / RESUME_FILE
    if not path.is_file():
        raise ResumeError(f"--resume {target}: no interrupted run to resume ({path} not found); run without --resume")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ResumeError(f"{path}: unreadable ({error}); run without --resume to start afresh") from None
    if not isinstance(info, dict) or info.get("command") != command or not isinstance(info.get("configs"), list):
        raise ResumeError(f"{path}: not the record of a '{command}' run; resume it with 'cinesense {info.get('command', '?')} --resume'")
    return info


def remove_stale_partials(target: str | Path) -> list[Path]:
    """Delete ``target``'s temporary run folders left by processes that no longer run (a ``kill -9``)."""
    path = Path(os.path.abspath(target))
    removed = []
    for folder in path.parent.glob(f".{path.name}{PARTIAL}*") if path.parent.is_dir() else []:
        pid = folder.name[len(f".{path.name}{PARTIAL}") :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
