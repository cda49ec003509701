"""Devices: ``auto`` is the CPU on a machine without a GPU, asking for CUDA there is a clear error
(from the config, the Python API and the command line), and a classifier moved to a device predicts
what it predicted before."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from cinesense.classifier import Classifier
from cinesense.config import ConfigError, TrainConfig
from cinesense.distributed import resolve_device

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


def test_auto_is_the_cpu_without_a_gpu_and_names_are_checked():
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("tpu")
    with pytest.raises(ConfigError, match="train.device must be auto, cpu, cuda or cuda:N, got 'gpu'"):
        TrainConfig(device="gpu")
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="fp8")


@no_gpu
def test_cuda_without_a_gpu_is_a_clear_error(tiny_text_model):
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        Classifier.load(tiny_text_model, device="cuda")
    result = subprocess.run([sys.executable, "-m", "cinesense", "predict", "--model", str(tiny_text_model), "--device", "cuda", "好"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "no CUDA GPU is available" in result.stderr and "Traceback" not in result.stderr


def test_a_classifier_moved_to_a_device_predicts_the_same(tiny_text_model):
    texts = ["房间很干净", "服务太差了", "还行"]
    before = Classifier.load(tiny_text_model).predict_proba(texts)
    moved = Classifier.load(tiny_text_model, device="auto")
    np.testing.assert_allclose(moved.predict_proba(texts), before, atol=1e-5)
    assert moved.explain("房间很干净").label in moved.classes_
