"""The ``cinesense`` command line. One module per group of commands, each with ``add_commands`` (its
sub-parsers) and ``COMMANDS`` (name -> function): ``training`` (train, evaluate, reproduce),
``serving`` (predict, explain, predict-file, serve), ``data`` (clean, data emoji / import, weights
fetch) and ``crawl``. Heavy imports happen inside the commands, so ``cinesense --help`` is quick."""

from __future__ import annotations

import argparse
import sys

from cinesense.bundle import BundleError
from cinesense.cli import crawl, data, serving, training
from cinesense.config import ConfigError
from cinesense.data.schema import DataError
from cinesense.image.weights import WeightsError

GROUPS = (training, serving, data, crawl)
COMMANDS = {name: run for group in GROUPS for name, run in group.COMMANDS.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cinesense", description="Sentiment of Chinese movie-review comments: text, stickers, both.")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, DataError, BundleError, WeightsError, ValueError) as error:
        print(f"cinesense {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a folder where a file was expected, a read-only disk, ...: the path, not a traceback
        paths = [str(p) for p in (error.filename, error.filename2) if p is not None]
        shown = f"{' -> '.join(paths)}: {error.strerror or error}" if paths else str(error)
        print(f"cinesense {args.command}: error: {shown}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
