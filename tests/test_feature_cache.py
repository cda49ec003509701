"""FeatureCache: compute once, key on content + weights + preprocessing + stem, survive bad images."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from cinesense.image.features import FeatureCache, default_features_dir, state_dict_sha256
from cinesense.image.model import AttVGG16, AttVGG16Config
from cinesense.image.weights import Preprocessing

torch.set_num_threads(1)

PRE = Preprocessing(input_size=32)


class CountingStem(nn.Module):
    """Wraps a stem and counts the images it is run on."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.images_seen = 0
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.images_seen += x.shape[0]
        return self.inner(x)


@pytest.fixture(scope="module")
def vgg_stem() -> nn.Module:
    torch.manual_seed(0)
    return AttVGG16(AttVGG16Config(num_classes=2)).stem  # random weights


@pytest.fixture()
def stem(vgg_stem: nn.Module) -> CountingStem:
    return CountingStem(vgg_stem)


def write_images(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"img{i}.png"
        Image.new("RGB", (32, 32), (40 * i % 256, 255 - 30 * i, 90)).save(path)
        paths.append(path)
    return paths


def make_cache(directory: Path, stem: nn.Module, pre: Preprocessing = PRE, sha: str = "w1", **kw) -> FeatureCache:
    return FeatureCache(directory, stem, pre, sha, "vgg16:test", progress=False, **kw)


def test_second_call_hits_the_cache_without_running_the_stem(tmp_path: Path, stem: CountingStem) -> None:
    paths = write_images(tmp_path / "img", 5)
    cache = make_cache(tmp_path / "cache", stem, batch_size=2)
    first, failures = cache.get(paths)
    assert failures == []
    assert first.shape == (5, 512, 2, 2) and first.dtype == torch.float32
    assert stem.images_seen == 5 and stem.calls == 3  # batches of 2, 2, 1
    files = sorted((tmp_path / "cache").rglob("*.safetensors"))
    assert len(files) == 5

    again = make_cache(tmp_path / "cache", stem)  # a fresh object: reads from disk
    second, failures = again.get(reversed(paths))
    assert failures == [] and stem.images_seen == 5 and stem.calls == 3
    assert torch.equal(second, first.flip(0))
    assert again.hits == 5 and again.computed == 0


def test_cached_values_equal_direct_stem_output(tmp_path: Path, vgg_stem: nn.Module) -> None:
    from cinesense.image.loading import load_image
    from cinesense.image.weights import preprocess_image

    paths = write_images(tmp_path / "img", 2)
    features, _ = make_cache(tmp_path / "cache", vgg_stem).get(paths)
    with torch.no_grad():
        direct = vgg_stem(torch.stack([preprocess_image(load_image(p), PRE) for p in paths]))
    assert torch.allclose(features, direct, rtol=1e-4, atol=1e-4)  # float32: one image a pass vs a batch of two


def test_changing_preprocessing_weights_or_stem_name_recomputes(tmp_path: Path, stem: CountingStem) -> None:
    paths = write_images(tmp_path / "img", 3)
    directory = tmp_path / "cache"
    make_cache(directory, stem).get(paths)
    assert stem.images_seen == 3
    make_cache(directory, stem, pre=Preprocessing(input_size=32, channel_order="RGB")).get(paths)
    assert stem.images_seen == 6
    make_cache(directory, stem, sha="w2").get(paths)
    assert stem.images_seen == 9
    FeatureCache(directory, stem, PRE, "w1", "vgg16:other", progress=False).get(paths)
    assert stem.images_seen == 12
    make_cache(directory, stem).get(paths)  # the original key is still cached
    assert stem.images_seen == 12
    assert len(list(directory.rglob("*.safetensors"))) == 12


def test_edited_image_content_recomputes(tmp_path: Path, stem: CountingStem) -> None:
    (path,) = write_images(tmp_path / "img", 1)
    cache = make_cache(tmp_path / "cache", stem)
    before, _ = cache.get([path])
    Image.new("RGB", (32, 32), (0, 0, 0)).save(path)
    after, _ = cache.get([path])
    assert stem.images_seen == 2
    assert not torch.equal(before, after)


def test_corrupt_and_missing_images_are_reported_and_the_rest_returned(tmp_path: Path, stem: CountingStem) -> None:
    good = write_images(tmp_path / "img", 3)
    corrupt = tmp_path / "img" / "corrupt.png"
    corrupt.write_bytes(good[0].read_bytes()[:40])  # truncated PNG
    garbage = tmp_path / "img" / "garbage.jpg"
    garbage.write_bytes(b"this is not an image")
    missing = tmp_path / "img" / "missing.png"
    cache = make_cache(tmp_path / "cache", stem, batch_size=8)
    features, failures = cache.get([good[0], corrupt, good[1], missing, garbage, good[2]])
    assert features.shape == (3, 512, 2, 2)
    assert [path for path, _ in failures] == [corrupt, missing, garbage]
    reasons = dict(failures)
    assert "file not found" in reasons[missing]
    assert "not a recognised image format" in reasons[garbage]
    assert reasons[corrupt]
    reference, _ = make_cache(tmp_path / "cache", stem).get(good)
    assert torch.equal(features, reference)
    assert stem.images_seen == 3  # bad images never reach the stem; good ones were cached


def test_all_images_bad_gives_empty_result(tmp_path: Path, stem: CountingStem) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    features, failures = make_cache(tmp_path / "cache", stem).get([bad])
    assert features.numel() == 0
    assert failures == [(bad, "empty file (0 bytes)")]
    assert stem.calls == 0


def test_same_content_under_two_names_is_computed_once(tmp_path: Path, stem: CountingStem) -> None:
    (original,) = write_images(tmp_path / "img", 1)
    copy = tmp_path / "elsewhere" / "renamed.png"
    copy.parent.mkdir()
    shutil.copy(original, copy)
    cache = make_cache(tmp_path / "cache", stem)
    features, failures = cache.get([original, copy, original])
    assert failures == [] and features.shape == (3, 512, 2, 2)
    assert stem.images_seen == 1
    assert torch.equal(features[0], features[1]) and torch.equal(features[0], features[2])
    assert len(list((tmp_path / "cache").rglob("*.safetensors"))) == 1


def test_unreadable_cache_entry_is_recomputed(tmp_path: Path, stem: CountingStem) -> None:
    paths = write_images(tmp_path / "img", 2)
    cache = make_cache(tmp_path / "cache", stem)
    first, _ = cache.get(paths)
    entry = cache.path_for(cache.key(paths[0].read_bytes()))
    entry.write_bytes(b"garbage")
    second, failures = cache.get(paths)
    assert failures == [] and torch.allclose(first, second, atol=1e-5)  # batch of 1 now: not bit-identical
    assert stem.images_seen == 3
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # no temporary files left behind


def test_stored_as_safetensors_with_key_metadata(tmp_path: Path, stem: CountingStem) -> None:
    from safetensors import safe_open

    (path,) = write_images(tmp_path / "img", 1)
    cache = make_cache(tmp_path / "cache", stem)
    cache.get([path])
    (entry,) = (tmp_path / "cache").rglob("*.safetensors")
    with safe_open(str(entry), framework="pt") as handle:
        meta = handle.metadata()
        assert list(handle.keys()) == ["features"]
    assert meta["weights_sha256"] == "w1" and meta["stem_name"] == "vgg16:test"
    assert '"input_size": 32' in meta["preprocessing"]


def test_default_directory_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stem: CountingStem) -> None:
    monkeypatch.setenv("CINESENSE_CACHE", str(tmp_path / "env"))
    assert default_features_dir() == tmp_path / "env" / "features"
    assert FeatureCache(None, stem, PRE, "w", "s").directory == tmp_path / "env" / "features"
    monkeypatch.delenv("CINESENSE_CACHE")
    assert default_features_dir() == Path.home() / ".cache" / "cinesense" / "features"


def test_state_dict_sha256_tracks_weights(vgg_stem: nn.Module) -> None:
    torch.manual_seed(0)
    a = AttVGG16(AttVGG16Config(num_classes=2)).stem
    torch.manual_seed(1)
    b = AttVGG16(AttVGG16Config(num_classes=2)).stem
    assert state_dict_sha256(a) == state_dict_sha256(vgg_stem)
    assert state_dict_sha256(a) != state_dict_sha256(b)
