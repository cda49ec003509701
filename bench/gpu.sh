#!/usr/bin/env bash
# On a GPU machine, in a few minutes: training and inference throughput on the GPU against its CPU
# (bench/gpu_throughput.py), a 2-epoch GPU training run of the smoke config with bf16, and the
# tests that exercise --device. Needs the project installed (make install) with a CUDA build of torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
$PY -c 'import torch; assert torch.cuda.is_available(), "no CUDA GPU visible to torch"; print(torch.cuda.get_device_name(0))'
$PY bench/gpu_throughput.py --seconds 5
out=$(mktemp -d)/gpu_run
$PY -m cinesense train --config configs/smoke.toml --out "$out" --device cuda --set 'train.precision="bf16"' --quiet
$PY -m cinesense predict --model "$out" --device cuda "这部电影太好看了"
$PY -m pytest -q -p no:cacheprovider tests/test_devices.py tests/test_distributed.py
