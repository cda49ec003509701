"""The VGG16 conv base (ImageNet weights, frozen blocks 1-5 at 224 px) at batch 1 in NCHW and in
channels-last on this machine: what ``--stem-layout auto`` measures, with more repeats.

    .venv/bin/python bench/stem_layout.py [--repeats 10] [--threads 0] [--input-size 224]

Prints seconds per image (best of ``--repeats`` after a warm-up) for each layout, the faster one,
and the largest difference between the two layouts' outputs on the same image.
"""

from __future__ import annotations

import argparse

import torch

from cinesense.image.model import AttVGG16, AttVGG16Config
from cinesense.image.stem_layout import LAYOUTS, apply_layout, layout_key, measure_layouts
from cinesense.image.weights import load_vgg16_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--input-size", type=int, default=224)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = AttVGG16(AttVGG16Config(num_classes=2)).eval()
    load_vgg16_weights(model.backbone)
    stem, device = model.stem, torch.device("cpu")
    seconds = measure_layouts(stem, args.input_size, device, repeats=args.repeats)
    image = torch.rand(1, 3, args.input_size, args.input_size, generator=torch.Generator().manual_seed(1)) * 255 - 128
    outputs = {}
    with torch.inference_mode():
        for layout in LAYOUTS:
            apply_layout(stem, layout)
            outputs[layout] = stem(image)
    difference = (outputs["nchw"] - outputs["channels-last"]).abs().max().item()
    print(layout_key(device, args.input_size))
    for layout, value in seconds.items():
        print(f"{layout:>14}: {value * 1000:.0f} ms an image ({1 / value:.2f} images/s)")
    print(f"faster: {min(seconds, key=seconds.get)}; largest output difference {difference:.3g} "
          f"(outputs up to {outputs['nchw'].abs().max().item():.3g})")


if __name__ == "__main__":
    main()
