"""``cinesense train``, ``evaluate`` and ``reproduce``: train a model, score a saved one, run the main job."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cinesense.config import load_config


def _add_config_arguments(parser: argparse.ArgumentParser, many: bool = False) -> None:
    if many:
        parser.add_argument("--config", type=Path, required=True, action="append",
                            help="experiment config (TOML); repeat it for several data sets: one run each under OUT/NAME, and a combined report")
    else:
        parser.add_argument("--config", type=Path, required=True, help="experiment config (TOML)")
    parser.add_argument("--out", type=Path, required=True,
                        help="run directory to create: missing or empty, unless --overwrite")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a non-empty --out: the run is written beside it and swapped in only when it succeeds")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.epochs=3 (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def add_commands(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a model and save it into a run directory")
    _add_config_arguments(train)

    evaluate = commands.add_parser("evaluate", help="evaluate a saved model on a JSONL file")
    evaluate.add_argument("--model", type=Path, required=True, help="model directory")
    evaluate.add_argument("--data", type=Path, required=True, help="labelled data in the shared JSONL format")
    evaluate.add_argument("--json", type=Path, help="write the metrics as JSON here")
    evaluate.add_argument("--skip-invalid", action="store_true", help="skip (and count) invalid lines")

    reproduce = commands.add_parser("reproduce", help="the main job: data, Word2Vec, models, baselines, report")
    _add_config_arguments(reproduce, many=True)


def run_train(args: argparse.Namespace) -> int:
    from cinesense.jobs import train_run
    from cinesense.rundir import run_folder

    config = load_config(args.config, args.overrides)
    with run_folder(args.out, overwrite=args.overwrite) as folder:  # in place only when training succeeds
        run = train_run(config, folder, argv=["cinesense", *sys.argv[1:]], progress=not args.quiet)
    dev = run.metrics.get("dev")
    shown = f"; dev accuracy {dev['accuracy']:.4f}, macro-F1 {dev['macro_f1']:.4f}" if dev else ""
    print(f"saved model to {args.out} ({run.seconds:.0f}s{shown})")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from cinesense.classifier import Classifier
    from cinesense.data.jsonl import load_jsonl
    from cinesense.evaluate.scoring import evaluate

    from cinesense.data.schema import check_input_file, check_output_file

    check_input_file(args.data)
    if args.json:
        check_output_file(args.json)  # a folder given as --json: said now, not after the work
    classifier = Classifier.load(args.model)
    data = load_jsonl(args.data, skip_invalid=args.skip_invalid)
    # without --skip-invalid, a record the model cannot score as given (a label it does not know, no
    # text for a text model, an unreadable image, ...) stops with its file and line; with it, the
    # record is left out and counted by reason
    metrics, _ = evaluate(classifier, data.records, source=args.data, invalid="skip" if args.skip_invalid else "error")
    skipped = data.skipped_summary()
    for reason, count in metrics["skipped"].items():
        skipped[reason] = skipped.get(reason, 0) + count
    metrics.update(data=str(args.data), model=str(args.model), skipped=skipped)
    text = json.dumps(metrics, ensure_ascii=False, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    keys = ("n", "accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "roc_auc")
    print("  ".join(f"{k}={metrics[k]:.4f}" if isinstance(metrics[k], float) else f"{k}={metrics[k]}" for k in keys))
    if skipped:
        shown = ", ".join(f"{reason} {count}" for reason, count in skipped.items())
        print(f"skipped {sum(skipped.values())} record(s), left out of the metrics: {shown}")
    if metrics["n_unreadable"]:
        print(f"{metrics['n_unreadable']} record(s) with {metrics['n_unreadable_images']} unreadable image(s): "
              f"{metrics['unreadable_policy']} (each one under 'unreadable' in the JSON)")
    return 0


def run_reproduce(args: argparse.Namespace) -> int:
    from cinesense import default_model
    from cinesense.jobs import reproduce, reproduce_many
    from cinesense.rundir import run_folder

    configs = [load_config(path, args.overrides) for path in args.config]
    argv = ["cinesense", *sys.argv[1:]]
    with run_folder(args.out, overwrite=args.overwrite) as folder:  # the whole --out (every OUT/NAME) is one unit
        if len(configs) == 1:
            report = reproduce(configs[0], folder, argv=argv, progress=not args.quiet)
        else:
            report = reproduce_many(configs, folder, argv=argv, progress=not args.quiet)
    print(f"report written to {args.out / report.relative_to(folder)}")
    for config in configs:  # once the run folder is in place
        if config.product:
            model = args.out / (config.product if len(configs) == 1 else Path(config.name) / config.product)
            print(f"default model: {model} (Classifier.load('default'); pointer {default_model.register(model)})")
    return 0


COMMANDS = {"train": run_train, "evaluate": run_evaluate, "reproduce": run_reproduce}
