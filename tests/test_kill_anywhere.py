"""Kill-anywhere: ``predict-file`` killed by SIGKILL or SIGTERM at seeded random points of its output
and run again with the same command ends with the output of an uninterrupted run: no duplicate
line, no gap, the same probabilities. (``train`` / ``reproduce``: tests/test_resume.py; ``crawl``:
tests/test_crawl_resume.py.) bench/kill_anywhere.py tries many more points."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import tiny_texts

ROOT = Path(__file__).resolve().parents[1]


def command(model: Path, data: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "cinesense", "predict-file", "--model", str(model), "--data", str(data), "--out", str(out),
            "--batch-size", "16", "--quiet", "--threads", "1"]


def lines(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return handle.read().count(b"\n")
    except FileNotFoundError:
        return 0


def kill_when(cmd: list[str], out: Path, at_line: int, how: signal.Signals, timeout: float = 120) -> int:
    """Run ``cmd``; send ``how`` once ``out`` has ``at_line`` lines (or when it ends by itself)."""
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if lines(out) >= at_line:
            process.send_signal(how)
            break
        time.sleep(0.005)
    return process.wait(timeout=timeout)


@pytest.fixture(scope="module")
def comments(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("kill") / "comments.jsonl"
    texts = tiny_texts(40, seed=3)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(1200):
            text, _ = texts[i % len(texts)]
            handle.write(json.dumps({"id": f"c{i}", "text": text}, ensure_ascii=False) + "\n")
    return path


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_predict_file_killed_at_random_points_ends_as_an_uninterrupted_run(tiny_text_model, comments, tmp_path, how):
    reference = tmp_path / "reference.jsonl"
    subprocess.run(command(tiny_text_model, comments, reference), check=True, capture_output=True)
    expected = reference.read_text(encoding="utf-8").splitlines()
    out = tmp_path / "killed.jsonl"
    points = sorted(random.Random(int(how)).sample(range(1, len(expected)), 3))
    codes = [kill_when(command(tiny_text_model, comments, out), out, point, how) for point in points]  # each later in the output
    assert any(code != 0 for code in codes), f"no run was killed before it finished ({codes}): the test tried nothing"
    subprocess.run(command(tiny_text_model, comments, out), check=True, capture_output=True)  # the last run finishes
    got = out.read_text(encoding="utf-8").splitlines()
    ids = [json.loads(line)["id"] for line in got]
    assert len(ids) == len(set(ids)), "duplicate lines"
    assert got == expected, "the resumed output differs from an uninterrupted run's"
