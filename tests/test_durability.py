"""Durability: what a kill, a full disk, a read-only folder or a damaged cache entry leaves behind.

- ``data import`` killed by SIGKILL at random moments: its output is absent or whole (equal to an
  uninterrupted run's), never a torn file; run again, it equals the uninterrupted run.
- A full disk (a per-process file-size limit, ``RLIMIT_FSIZE``, which fails writes as a full disk
  does): ``data import`` and ``predict-file`` stop with an error naming the output, the earlier
  file is unchanged, and once there is room again ``predict-file`` continues to the same output.
- A read-only output folder: an error naming the path, no traceback.
- A cache entry (conv features, sticker stems, sentence encodings) with one bit flipped, same size:
  recomputed, never read; a cache folder that cannot be written costs speed, not the result.

``train`` / ``reproduce``: tests/test_resume.py; ``predict-file`` killed: tests/test_kill_anywhere.py;
``crawl``: tests/test_crawl_resume.py; truncated weights / checkpoints / Word2Vec: test_bundle.py,
test_image_weights.py, test_resume.py, test_vocab_word2vec.py.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_tencent import FakeServer, SyntheticArticle
from helpers import tiny_texts

from cinesense.atomic import atomic_open
from cinesense.cli import main
from cinesense.data.jsonl import write_jsonl
from cinesense.data.schema import DataError, Record

ARTICLE = "7700000002"
URL = "https://v.qq.com/x/cover/mzc00200durable/x0000abcd12.html"


def handler(path, query):
    if path == "/x/cover/mzc00200durable/x0000abcd12.html":
        return 200, {}, f'<script>{{"comment_id":"{ARTICLE}"}}</script>'.encode()
    return SyntheticArticle(300, article=ARTICLE)(path, query)


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("durable") / "crawl"
    with FakeServer(handler) as server:
        args = ["crawl", "tencent", URL, "--out", str(out), "--base-url", server.url, "--rate", "0", "--backoff", "0", "--quiet"]
        assert main(args) == 0
    return out


def import_command(crawl: Path, out: Path, sheet: Path) -> list[str]:
    return [sys.executable, "-m", "cinesense", "data", "import", str(crawl), "--out", str(out), "--label-sheet", str(sheet)]


def limited(max_file_bytes: int):
    """preexec_fn: writes past ``max_file_bytes`` fail with EFBIG, as on a full disk (not a signal)."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
    return apply


# --------------------------------------------------------------------------- kill anywhere

def test_atomic_open_killed_inside_the_block_leaves_the_earlier_file(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("earlier\n", encoding="utf-8")
    script = textwrap.dedent(f"""
        import os, signal
        from cinesense.atomic import atomic_open
        with atomic_open({str(target)!r}, "w", encoding="utf-8") as out:
            out.write("half of the new content" * 1000)
            out.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert subprocess.run([sys.executable, "-c", script]).returncode == -signal.SIGKILL
    assert target.read_text(encoding="utf-8") == "earlier\n"


def test_atomic_open_error_inside_the_block_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_open(target) as out:
        out.write("partial")
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []
    with atomic_open(target) as out:
        out.write("whole")
    assert target.read_text() == "whole" and (target.stat().st_mode & 0o777) == 0o666 & ~_umask()
    with pytest.raises(ValueError, match="mode"):
        with atomic_open(target, "a"):
            pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_data_import_killed_at_random_moments_is_absent_or_whole(crawl, tmp_path):
    reference, reference_sheet = tmp_path / "reference.jsonl", tmp_path / "reference.csv"
    tick = time.monotonic()
    subprocess.run(import_command(crawl, reference, reference_sheet), check=True, capture_output=True)
    duration = time.monotonic() - tick
    expected, expected_sheet = reference.read_bytes(), reference_sheet.read_bytes()
    rng = random.Random(16)
    out, sheet = tmp_path / "set.jsonl", tmp_path / "label.csv"
    outcomes = []
    for _ in range(6):
        process = subprocess.Popen(import_command(crawl, out, sheet), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 1.1) * duration)
        process.send_signal(signal.SIGKILL)
        outcomes.append(process.wait(timeout=60))
        for path, whole in ((out, expected), (sheet, expected_sheet)):
            assert not path.exists() or path.read_bytes() == whole, f"a kill left a torn {path.name}"
    subprocess.run(import_command(crawl, out, sheet), check=True, capture_output=True)
    assert out.read_bytes() == expected and sheet.read_bytes() == expected_sheet
    assert len(expected.splitlines()) == 300 and outcomes  # the crawl's 300 comments, each once


# --------------------------------------------------------------------------- full disk

def test_write_jsonl_on_a_full_disk_names_the_file_and_keeps_the_earlier_one(tmp_path):
    target = tmp_path / "set.jsonl"
    write_jsonl([Record(id="old", text="旧的", label="positive")], target)
    earlier = target.read_bytes()
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from cinesense.data.jsonl import write_jsonl
        from cinesense.data.schema import DataError, Record
        records = [Record(id=str(i), text="很好看的电影" * 20, label="positive") for i in range(2000)]
        try:
            write_jsonl(records, Path({str(target)!r}))
        except DataError as error:
            print(error)
            sys.exit(3)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, preexec_fn=limited(64 * 1024))
    assert done.returncode == 3, done.stderr
    assert str(target) in done.stdout and "unchanged" in done.stdout
    assert target.read_bytes() == earlier
    assert [p.name for p in tmp_path.iterdir()] == ["set.jsonl"]  # no temporary file left


def test_data_import_on_a_full_disk_is_an_error_naming_the_output(crawl, tmp_path):
    out, sheet = tmp_path / "set.jsonl", tmp_path / "label.csv"
    done = subprocess.run(import_command(crawl, out, sheet), capture_output=True, text=True, preexec_fn=limited(16 * 1024))
    assert done.returncode != 0
    assert str(out) in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_predict_file_on_a_full_disk_stops_naming_the_output_then_continues(tiny_text_model, tmp_path):
    data = tmp_path / "comments.jsonl"
    texts = tiny_texts(40, seed=5)
    data.write_text("".join(json.dumps({"id": f"c{i}", "text": texts[i % 40][0]}, ensure_ascii=False) + "\n" for i in range(600)),
                    encoding="utf-8")

    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "cinesense", "predict-file", "--model", str(tiny_text_model), "--data", str(data),
                "--out", str(out), "--batch-size", "16", "--quiet", "--threads", "1"]

    reference = tmp_path / "reference.jsonl"
    subprocess.run(command(reference), check=True, capture_output=True)
    out = tmp_path / "out.jsonl"
    size = reference.stat().st_size
    done = subprocess.run(command(out), capture_output=True, text=True, preexec_fn=limited(size // 3))
    assert done.returncode != 0 and str(out) in done.stderr and "Traceback" not in done.stderr
    assert 0 < out.stat().st_size <= size // 3
    subprocess.run(command(out), check=True, capture_output=True)  # room again: it continues
    assert out.read_bytes() == reference.read_bytes()


# --------------------------------------------------------------------------- read-only folder

def _read_only_folder(tmp_path: Path) -> Path | None:
    """A folder this process cannot write: chmod 0555 (not root), else a read-only mount, else None."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    with open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) > 3 and "ro" in fields[3].split(",") and Path(fields[1]).is_dir():
                return Path(fields[1])
    return None


def test_a_read_only_output_folder_is_an_error_naming_the_path(crawl, tmp_path, capsys):
    folder = _read_only_folder(tmp_path)
    if folder is None:
        pytest.skip("running as root with no read-only mount: no folder here refuses a write")
    out = folder / "cinesense-test" / "set.jsonl"
    with pytest.raises(DataError, match="could not write"):
        write_jsonl([Record(id="1", text="好", label=None)], out)
    assert main(["data", "import", str(crawl), "--out", str(out)]) != 0
    assert str(out.parent) in capsys.readouterr().err  # the folder it could not create


# --------------------------------------------------------------------------- damaged cache entries

def flip_one_bit(path: Path, rng: random.Random) -> None:
    """Flip one bit in the tensor bytes (the end of a safetensors file): same size, still parses."""
    data = bytearray(path.read_bytes())
    position = len(data) - 1 - rng.randrange(min(64, len(data) // 4))
    data[position] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


def test_feature_cache_entry_with_a_flipped_bit_is_recomputed(tmp_path):
    from PIL import Image

    from cinesense.image.features import FeatureCache
    from cinesense.image.weights import Preprocessing

    torch.manual_seed(0)
    stem = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.AdaptiveAvgPool2d(2)).eval()
    paths = []
    for i, colour in enumerate([(200, 30, 30), (30, 30, 200)]):
        paths.append(tmp_path / f"{i}.png")
        Image.new("RGB", (40, 40), colour).save(paths[-1])
    pre = Preprocessing(input_size=32)
    cache = FeatureCache(tmp_path / "cache", stem, pre, "w1", "test:stem", progress=False)
    first, _ = cache.get(paths)
    flip_one_bit(cache.path_for(cache.key(paths[0].read_bytes())), random.Random(1))
    fresh = FeatureCache(tmp_path / "cache", stem, pre, "w1", "test:stem", progress=False)
    second, failures = fresh.get(paths)
    assert failures == [] and fresh.hits == 1  # the damaged entry was not served
    torch.testing.assert_close(second, first, atol=1e-5, rtol=0)
    third, _ = FeatureCache(tmp_path / "cache", stem, pre, "w1", "test:stem", progress=False).get(paths)
    torch.testing.assert_close(third, first, atol=1e-5, rtol=0)  # and the rewritten entry is good


def test_sticker_cache_entry_with_a_flipped_bit_is_recomputed(tiny_image_model, tmp_path):
    from PIL import Image

    from cinesense import Classifier
    from cinesense.image.stem_cache import attach_sticker_cache

    images = [Image.new("RGB", (64, 64), colour) for colour in ((220, 20, 20), (20, 20, 220))]
    first_model = Classifier.load(tiny_image_model)
    attach_sticker_cache(first_model, directory=tmp_path / "stickers")
    first = first_model.predict_proba(images=images)
    entries = sorted((tmp_path / "stickers").rglob("*.safetensors"))
    assert len(entries) == 2
    flip_one_bit(entries[0], random.Random(2))
    fresh = Classifier.load(tiny_image_model)
    cache = attach_sticker_cache(fresh, directory=tmp_path / "stickers")
    again = fresh.predict_proba(images=images)
    assert cache.disk_hits == 1 and cache.misses == 1
    np.testing.assert_allclose(again, first, atol=1e-6)


def test_encoding_cache_entry_with_a_flipped_bit_is_recomputed(tmp_path):
    from cinesense.text.encoder import SentenceEncoder

    texts = ["这部电影太好看了", "浪费时间的烂片"]
    encoder = SentenceEncoder(cache_dir=tmp_path / "encodings")
    reference = encoder.encode(texts)
    flip_one_bit(encoder.path_for(encoder.key(texts[0])), random.Random(3))
    fresh = SentenceEncoder(cache_dir=tmp_path / "encodings")
    assert np.array_equal(fresh.encode(texts), reference)
    assert fresh.computed == 1 and fresh.hits == 1


def test_an_unwritable_cache_costs_speed_not_the_result(tmp_path, monkeypatch):
    from cinesense.text import encoder as encoder_module

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    texts = ["好看", "难看"]
    reference = encoder_module.SentenceEncoder(cache_dir=tmp_path / "a").encode(texts)
    monkeypatch.setattr(encoder_module, "write_entry", full)
    encoder = encoder_module.SentenceEncoder(cache_dir=tmp_path / "b")
    assert np.array_equal(encoder.encode(texts), reference)
    assert not list((tmp_path / "b").rglob("*.safetensors"))
