"""VGG16Features: architecture, output shapes, freezing."""

from __future__ import annotations

import pytest
import torch

from cinesense.image.vgg import VGG16Features, conv_layer_names, conv_param_shapes


@pytest.fixture(scope="module")
def model() -> VGG16Features:
    torch.manual_seed(0)
    return VGG16Features().eval()


def test_thirteen_conv_layers_with_vgg16_shapes(model: VGG16Features) -> None:
    convs = list(model.convs())
    assert len(convs) == 13
    assert all(c.kernel_size == (3, 3) and c.stride == (1, 1) and c.padding == (1, 1) for c in convs)
    names = conv_layer_names()
    assert names[0] == "block1_conv1" and names[-1] == "block5_conv3"
    state = model.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == conv_param_shapes()
    assert state["block1_conv1.weight"].shape == (64, 3, 3, 3)
    assert state["block5_conv3.weight"].shape == (512, 512, 3, 3)
    assert sum(p.numel() for p in model.parameters()) == 14_714_688  # VGG16 conv params


@pytest.mark.parametrize("size", [224, 227])
def test_output_is_7x7_at_224_and_227(model: VGG16Features, size: int) -> None:
    with torch.no_grad():
        out = model(torch.randn(1, 3, size, size) * 50)
    assert out.shape == (1, 512, 7, 7)
    assert VGG16Features.output_size(size) == 7
    assert torch.isfinite(out).all()
    assert (out >= 0).all()  # ends in ReLU + max-pool


def test_without_final_pool_gives_14x14(model: VGG16Features) -> None:
    fine = VGG16Features(final_pool=False).eval()
    fine.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 224, 224) * 50
    with torch.no_grad():
        grid = fine(x)
        pooled = model(x)
    assert grid.shape == (1, 512, 14, 14)
    assert VGG16Features.output_size(224, final_pool=False) == 14
    assert torch.allclose(torch.nn.functional.max_pool2d(grid, 2), pooled)


def test_small_and_non_square_inputs(model: VGG16Features) -> None:
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 96))
    assert out.shape == (2, 512, 2, 3)
    assert not torch.isnan(out).any()


def test_rejects_wrong_input_shape(model: VGG16Features) -> None:
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.randn(1, 1, 32, 32))


def test_freeze_all_and_unfreeze_block5() -> None:
    net = VGG16Features()
    assert net.trainable_blocks() == [1, 2, 3, 4, 5]
    net.freeze_all()
    assert not any(p.requires_grad for p in net.parameters())
    assert net.trainable_blocks() == []
    net.unfreeze_block5()
    assert net.trainable_blocks() == [5]
    for name, param in net.named_parameters():
        assert param.requires_grad == name.startswith("block5_")
    net(torch.randn(1, 3, 32, 32)).sum().backward()
    for name, param in net.named_parameters():
        assert (param.grad is not None) == name.startswith("block5_")
    with pytest.raises(ValueError, match="1..5"):
        net.set_trainable_blocks([6])


def test_train_and_eval_give_the_same_output(model: VGG16Features) -> None:
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        a = model.train()(x)
        b = model.eval()(x)
    assert torch.equal(a, b)
