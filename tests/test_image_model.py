"""AttVGG16: shapes, attention, freezing, training on cached stem outputs (random weights, tiny images)."""

from __future__ import annotations

import pytest
import torch

from cinesense.image.model import AttVGG16, AttVGG16Config, VGG16Stem, collate_stem_outputs
from cinesense.image.vgg import VGG16Features

torch.set_num_threads(1)

SIZE = 32  # 32x32 input: stem output (B, 512, 2, 2); 1x1 grid with the final pool


def make_model(**overrides) -> AttVGG16:
    torch.manual_seed(0)
    values = {"num_classes": 2, "attention_dim": 16, "dropout": 0.0, "projection_dim": 512}
    values.update(overrides)
    return AttVGG16(AttVGG16Config(**values))


def images(batch: int = 3, size: int = SIZE) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(batch, 3, size, size) * 50  # (B, 3, H, W), roughly Caffe-scaled


@pytest.mark.parametrize("num_classes", [2, 3])
@pytest.mark.parametrize("final_pool", [True, False])
def test_logit_shapes(num_classes: int, final_pool: bool) -> None:
    model = make_model(num_classes=num_classes, final_pool=final_pool).eval()
    x = images()
    with torch.no_grad():
        stem = model.forward_stem(x)
        assert stem.shape == (3, 512, 2, 2)  # H/16: the stem never applies the fifth pool
        features, attention = model.forward_features(stem)
        logits = model(stem_output=stem)
        direct = model(images=x)
    grid = 1 if final_pool else 2
    assert features.shape == (3, 512)
    assert attention.shape == (3, grid, grid)
    assert logits.shape == (3, num_classes)
    assert torch.allclose(logits, direct)
    assert torch.isfinite(logits).all() and torch.isfinite(features).all()


def test_attention_sums_to_one_over_positions_and_respects_mask() -> None:
    model = make_model(final_pool=False).eval()
    stem = torch.rand(4, 512, 3, 5) * 30  # a non-square 3x5 grid
    with torch.no_grad():
        _, attention = model.forward_features(stem)
        assert attention.shape == (4, 3, 5)
        assert torch.allclose(attention.sum(dim=(1, 2)), torch.ones(4), atol=1e-6)
        assert (attention >= 0).all()
        mask = torch.ones(4, 3, 5, dtype=torch.bool)
        mask[:, :, 3:] = False  # e.g. padding on the right
        _, masked = model.forward_features(stem, mask)
    assert torch.allclose(masked.sum(dim=(1, 2)), torch.ones(4), atol=1e-6)
    assert (masked[:, :, 3:] == 0).all()
    with pytest.raises(ValueError, match="mask shape"):
        model.forward_features(stem, mask[:, :2])


def test_projection_changes_feature_dim() -> None:
    model = make_model(projection_dim=24, final_pool=False).eval()
    with torch.no_grad():
        features, attention = model.forward_features(torch.rand(2, 512, 2, 2))
    assert features.shape == (2, 24) and attention.shape == (2, 2, 2)
    assert model(stem_output=torch.rand(2, 512, 2, 2)).shape == (2, 2)
    plain = make_model(projection_dim=None, final_pool=False).eval()  # attend over the VGG vectors directly
    assert isinstance(plain.projection, torch.nn.Identity)
    with torch.no_grad():
        features, attention = plain.forward_features(torch.rand(2, 512, 2, 2))
    assert features.shape == (2, 512) and torch.allclose(attention.sum(dim=(1, 2)), torch.ones(2), atol=1e-6)


def test_frozen_stem_has_no_grad() -> None:
    model = make_model()
    assert model.trainable_conv_blocks() == []
    assert all(not p.requires_grad for p in model.backbone.parameters())
    assert all(not p.requires_grad for p in model.stem.parameters())
    model.train()
    loss = torch.nn.functional.cross_entropy(model(images=images()), torch.tensor([0, 1, 0]))
    loss.backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert model.head.weight.grad is not None and model.attention.projection.weight.grad is not None
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and not any(name.startswith("backbone.") for name in trainable)


def test_trainable_blocks_1_fine_tunes_block5_only() -> None:
    model = make_model(trainable_blocks=1)
    assert model.trainable_conv_blocks() == [5]
    assert model.stem.last_block == 4
    assert all(not p.requires_grad for b in range(1, 5) for conv in model.backbone.block(b) for p in conv.parameters())
    model.train()
    stem = model.forward_stem(images())
    assert stem.shape == (3, 512, 2, 2)  # after pool4: H/16
    assert not stem.requires_grad
    loss = torch.nn.functional.cross_entropy(model(stem_output=stem), torch.tensor([0, 1, 0]))
    loss.backward()
    for conv in model.backbone.block(5):
        assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
    assert model.backbone.block(4)[0].weight.grad is None
    assert model.stem_name != make_model().stem_name  # different stems, different cache entries


def test_stem_matches_plain_vgg_and_shares_parameters() -> None:
    model = make_model().eval()
    plain = VGG16Features(final_pool=True).eval()
    plain.load_state_dict(model.backbone.state_dict())
    x = images(2, 64)
    with torch.no_grad():
        pooled = torch.nn.functional.max_pool2d(model.forward_stem(x), 2)
        assert torch.allclose(pooled, plain(x), atol=1e-5)
    assert model.stem.block1_conv1 is model.backbone.block1_conv1
    assert not any(key.startswith("stem.") for key in model.state_dict())  # parameters stored once
    assert isinstance(model.stem, VGG16Stem)


def test_no_nans_on_extreme_inputs() -> None:
    model = make_model(final_pool=False).eval()
    with torch.no_grad():
        for stem in (torch.zeros(2, 512, 2, 2), torch.full((2, 512, 2, 2), 1e4)):
            features, attention = model.forward_features(stem)
            logits = model.forward_head(features)
            assert torch.isfinite(features).all() and torch.isfinite(attention).all() and torch.isfinite(logits).all()


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="trainable_blocks"):
        AttVGG16Config(num_classes=2, trainable_blocks=2)
    with pytest.raises(ValueError, match="num_classes"):
        AttVGG16Config(num_classes=1)
    with pytest.raises(ValueError, match="exactly one"):
        make_model()(stem_output=torch.rand(1, 512, 2, 2), images=images(1))
    assert AttVGG16Config(num_classes=2).to_dict()["trainable_blocks"] == 0


def test_loss_goes_down_on_a_tiny_set_with_fit() -> None:
    from cinesense.config import TrainConfig
    from cinesense.train import fit

    model = make_model(final_pool=False)
    torch.manual_seed(2)
    x = images(12)
    x[6:, 0] += 80.0  # class 1 differs in one channel
    labels = [0] * 6 + [1] * 6
    with torch.no_grad():
        cached = list(model.forward_stem(x))  # training reads stem outputs only
    before = model.backbone.state_dict()
    config = TrainConfig(epochs=30, batch_size=4, learning_rate=1e-2, l2=0.0, patience=30, threads=1)
    history = fit(model, (cached, labels), None, collate_stem_outputs, ["negative", "positive"], config, progress=False)
    losses = [e.train_loss for e in history.epochs]
    assert losses[-1] < 0.5 * losses[0]
    after = model.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the frozen base did not move
