"""A run folder never lies: `train` / `reproduce` refuse a non-empty --out unless --overwrite, write
into a sibling temporary folder and put it in place only when the run succeeds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cinesense.cli import main
from cinesense.rundir import PARTIAL, REPLACED, RunFolderError, run_folder

from helpers import tiny_texts

TINY = ["seed=0", "word2vec.vector_size=16", "word2vec.min_count=1", "word2vec.epochs=3", "text_model.hidden_size=16",
        "text_model.attention_dim=16", "train.epochs=3", "train.batch_size=8", "train.learning_rate=0.01", "train.threads=1"]


def _siblings(folder: Path) -> list[str]:
    """Leftovers of a run beside its folder."""
    return sorted(p.name for p in folder.parent.iterdir() if PARTIAL in p.name or REPLACED in p.name)


def _old_run(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True)
    files = {"manifest.json": '{"old": true}', "model.safetensors": "old weights", "stale.txt": "from the old run"}
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return files


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}


# --------------------------------------------------------------------------- the helper


def test_run_folder_puts_the_run_in_place_on_success(tmp_path):
    target = tmp_path / "runs" / "new"
    with run_folder(target) as folder:
        assert folder != target and folder.parent == target.parent and not target.exists()
        (folder / "report.md").write_text("done", encoding="utf-8")
    assert _contents(target) == {"report.md": "done"}
    assert _siblings(target) == []


def test_run_folder_failure_leaves_no_folder_and_the_old_run_untouched(tmp_path):
    fresh = tmp_path / "fresh"
    with pytest.raises(KeyError):
        with run_folder(fresh) as folder:
            (folder / "config.json").write_text("{}", encoding="utf-8")
            raise KeyError("training failed")
    assert not fresh.exists() and _siblings(fresh) == []

    old = tmp_path / "old"
    files = _old_run(old)
    with pytest.raises(KeyboardInterrupt):
        with run_folder(old, overwrite=True) as folder:
            (folder / "config.json").write_text("{}", encoding="utf-8")
            raise KeyboardInterrupt
    assert _contents(old) == files and _siblings(old) == []


def test_run_folder_overwrite_replaces_the_whole_folder(tmp_path):
    target = tmp_path / "run"
    _old_run(target)
    (target / "sub").mkdir()
    with run_folder(target, overwrite=True) as folder:
        (folder / "manifest.json").write_text('{"new": true}', encoding="utf-8")
    assert _contents(target) == {"manifest.json": '{"new": true}'}  # nothing of the old run is left beside it
    assert _siblings(target) == []


def test_run_folder_refuses_a_non_empty_folder_before_the_run(tmp_path):
    target = tmp_path / "run"
    files = _old_run(target)
    ran = []
    with pytest.raises(RunFolderError, match=r"folder is not empty \(holds manifest.json, model.safetensors, stale.txt\); pass --overwrite") as info:
        with run_folder(target):
            ran.append(True)
    assert str(target) in str(info.value)
    assert not ran and _contents(target) == files and _siblings(target) == []


def test_run_folder_accepts_an_empty_folder(tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    with run_folder(target) as folder:
        (folder / "a.txt").write_text("a", encoding="utf-8")
    assert _contents(target) == {"a.txt": "a"}


def test_run_folder_refuses_a_file_and_the_current_directory(tmp_path, monkeypatch):
    file = tmp_path / "model.json"
    file.write_text("{}", encoding="utf-8")
    with pytest.raises(RunFolderError, match="is a file, not a folder") as info:
        with run_folder(file, overwrite=True):
            pass
    assert str(file) in str(info.value) and file.read_text(encoding="utf-8") == "{}"
    with pytest.raises(RunFolderError, match="is a file, not a folder"):
        with run_folder(file / "run"):
            pass
    work = tmp_path / "work"
    (work / "inner").mkdir(parents=True)
    monkeypatch.chdir(work / "inner")
    for target in (Path("."), Path("..")):
        with pytest.raises(RunFolderError, match="holds the current directory"):
            with run_folder(target, overwrite=True):
                pass
    assert (work / "inner").is_dir()


# --------------------------------------------------------------------------- train / reproduce


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    root = tmp_path_factory.mktemp("run-folder")
    for name, n, seed in (("train", 40, 1), ("dev", 12, 2), ("test", 12, 3)):
        lines = [json.dumps({"id": f"{name}{i}", "text": text, "label": label}, ensure_ascii=False)
                 for i, (text, label) in enumerate(tiny_texts(n, seed, sep=" "))]
        (root / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = root / "tiny.toml"
    config.write_text(f'name = "tiny"\n[data]\ntrain = "{root / "train.jsonl"}"\ndev = "{root / "dev.jsonl"}"\n'
                      f'test = "{root / "test.jsonl"}"\n', encoding="utf-8")
    return config


def _train(config, out, *extra):
    sets = [arg for value in TINY for arg in ("--set", value)]
    return main(["train", "--config", str(config), "--out", str(out), "--quiet", *sets, *extra])


def test_train_refuses_a_folder_holding_another_model(tiny_config, tmp_path, capsys):
    out = tmp_path / "model"
    files = _old_run(out)
    assert _train(tiny_config, out) == 2
    error = capsys.readouterr().err
    assert f"--out {out}: folder is not empty" in error and "--overwrite" in error
    assert _contents(out) == files  # no new config.json / command.txt beside the old weights
    assert _siblings(out) == []


def test_train_overwrite_replaces_the_old_model(tiny_config, tmp_path, capsys):
    from cinesense import Classifier

    out = tmp_path / "model"
    _old_run(out)
    assert _train(tiny_config, out, "--overwrite") == 0
    assert f"saved model to {out} " in capsys.readouterr().out
    assert not (out / "stale.txt").exists()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["modality"] == "text" and "old" not in manifest
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["train"]["epochs"] == 3
    assert Classifier.load(out).predict(["电影 好看"])[0] in ("positive", "negative")
    assert _siblings(out) == []
    for path in out.rglob("*"):  # nothing recorded names the temporary folder
        if path.suffix in (".json", ".txt"):
            assert PARTIAL not in path.read_text(encoding="utf-8"), path


def test_failed_train_leaves_no_partial_folder(tiny_config, tmp_path, capsys):
    missing = tmp_path / "missing.jsonl"
    out = tmp_path / "model"
    assert _train(tiny_config, out, "--set", f'data.train="{missing}"') == 2
    assert str(missing) in capsys.readouterr().err
    assert not out.exists() and _siblings(out) == []
    files = _old_run(out)
    assert _train(tiny_config, out, "--overwrite", "--set", f'data.train="{missing}"') == 2
    assert _contents(out) == files and _siblings(out) == []  # the old model is still whole


def test_train_out_that_is_a_file_is_a_clear_error(tiny_config, tmp_path, capsys):
    out = tmp_path / "model.bin"
    out.write_bytes(b"weights")
    assert _train(tiny_config, out, "--overwrite") == 2
    assert f"--out {out}: is a file, not a folder" in capsys.readouterr().err
    assert out.read_bytes() == b"weights"


@pytest.mark.slow  # a whole-pipeline run: .ci/run runs these with -m slow
def test_reproduce_refuses_then_overwrites_and_records_the_final_folder(tiny_config, tmp_path, capsys):
    out = tmp_path / "run"
    files = _old_run(out)
    sets = [arg for value in TINY for arg in ("--set", value)]
    command = ["reproduce", "--config", str(tiny_config), "--out", str(out), "--quiet", *sets]
    assert main(command) == 2
    assert "folder is not empty" in capsys.readouterr().err and _contents(out) == files
    assert main([*command, "--overwrite"]) == 0
    assert capsys.readouterr().out.strip() == f"report written to {out / 'report.md'}"
    assert not (out / "stale.txt").exists() and (out / "report.md").is_file() and (out / "text_model" / "manifest.json").is_file()
    assert _siblings(out) == []
    for path in out.rglob("*"):
        if path.suffix in (".md", ".json", ".txt", ".jsonl"):
            assert PARTIAL not in path.read_text(encoding="utf-8"), path


@pytest.mark.slow  # a whole-pipeline run: .ci/run runs these with -m slow
def test_reproduce_several_configs_is_one_unit(tiny_config, tmp_path):
    second = tmp_path / "second.toml"
    second.write_text(f'name = "second"\n[data]\ntrain = "{tmp_path / "missing.jsonl"}"\n', encoding="utf-8")
    out = tmp_path / "all"
    sets = [arg for value in TINY for arg in ("--set", value)]
    assert main(["reproduce", "--config", str(tiny_config), "--config", str(second), "--out", str(out), "--quiet", *sets]) == 2
    assert not out.exists() and _siblings(out) == []  # the first config's finished run is not left behind alone


def test_make_run_overwrites_its_run_folder():
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text(encoding="utf-8")
    run_target = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    (line,) = [l for l in run_target.splitlines() if "cinesense reproduce" in l]
    assert re.search(r"--out \$\(OUT\)", line) and "--overwrite" in line
