"""Tests of cinesense.attention.AdditiveAttentionPooling."""

from __future__ import annotations

import pytest
import torch

from cinesense.attention import AdditiveAttentionPooling

B, T, D, A = 3, 6, 5, 4


@pytest.fixture
def pooling():
    torch.manual_seed(0)
    return AdditiveAttentionPooling(D, A)


def _mask(lengths, total):
    return torch.arange(total).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)


def test_shapes_and_weights_sum_to_one_without_mask(pooling):
    inputs = torch.randn(B, T, D)
    pooled, weights = pooling(inputs)
    assert pooled.shape == (B, D)
    assert weights.shape == (B, T)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(B))
    assert (weights > 0).all()


def test_weights_sum_to_one_and_are_zero_on_padding(pooling):
    inputs = torch.randn(B, T, D)
    lengths = [6, 3, 1]
    mask = _mask(lengths, T)
    pooled, weights = pooling(inputs, mask)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(B))
    assert (weights[~mask] == 0).all()  # exactly zero
    assert (weights[mask] > 0).all()
    assert weights[2, 0] == 1.0
    torch.testing.assert_close(pooled[2], inputs[2, 0])
    assert torch.isfinite(pooled).all()


def test_pooled_is_weighted_average(pooling):
    inputs = torch.randn(B, T, D)
    pooled, weights = pooling(inputs, _mask([6, 4, 2], T))
    torch.testing.assert_close(pooled, (weights.unsqueeze(-1) * inputs).sum(dim=1))


def test_padding_invariance(pooling):
    torch.manual_seed(1)
    inputs = torch.randn(B, T, D)
    mask = _mask([6, 3, 2], T)
    pooled, weights = pooling(inputs, mask)
    # append 4 padding positions holding large garbage values
    extra = torch.cat([inputs, 100 * torch.randn(B, 4, D)], dim=1)
    extra_mask = torch.cat([mask, torch.zeros(B, 4, dtype=torch.bool)], dim=1)
    pooled_extra, weights_extra = pooling(extra, extra_mask)
    torch.testing.assert_close(pooled_extra, pooled, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(weights_extra[:, :T], weights, rtol=1e-6, atol=1e-6)
    assert (weights_extra[:, T:] == 0).all()
    # changing what sits in the padding changes nothing either
    garbage = inputs.clone()
    garbage[~mask] = -50.0
    torch.testing.assert_close(pooling(garbage, mask)[0], pooled)


def test_gradient_flows(pooling):
    inputs = torch.randn(B, T, D, requires_grad=True)
    mask = _mask([6, 3, 2], T)
    pooled, _ = pooling(inputs, mask)
    pooled.pow(2).sum().backward()
    for name, parameter in pooling.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name
    assert torch.isfinite(inputs.grad).all()
    assert (inputs.grad[~mask] == 0).all()  # padding gets no gradient
    assert inputs.grad[mask].abs().sum() > 0
