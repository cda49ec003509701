"""``cinesense train``, ``evaluate`` and ``reproduce``: train a model, score a saved one, run the main job."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cinesense import rundir
from cinesense.config import ExperimentConfig, from_dict, load_config
from cinesense.distributed import DEVICES


def _add_config_arguments(parser: argparse.ArgumentParser, many: bool = False) -> None:
    if many:
        parser.add_argument("--config", type=Path, action="append",
                            help="experiment config (TOML); repeat it for several data sets: one run each under OUT/NAME, and a combined report")
    else:
        parser.add_argument("--config", type=Path, action="append", help="experiment config (TOML)")
    parser.add_argument("--out", type=Path, help="run directory to create: missing or empty, unless --overwrite")
    parser.add_argument("--resume", type=Path, metavar="DIR",
                        help="continue the interrupted run that was to become DIR (after a kill, a crash or Ctrl-C), with the "
                             "configs and options it was started with; models it had finished are not trained again")
    parser.add_argument("--device", choices=DEVICES, help="where models train: auto (a GPU when there is one; the default), cpu or cuda")
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


def _configs(args: argparse.Namespace, command: str) -> tuple[list[ExperimentConfig], Path, bool]:
    """The configs, ``--out`` and ``--overwrite`` of this command, or of the run ``--resume`` names."""
    if args.resume is not None:
        if args.config or args.out or args.overrides:
            raise rundir.ResumeError("--resume DIR takes the configs and options the run was started with: give no --config, --out or --set")
        info = rundir.load_resume_info(args.resume, command)
        configs = [from_dict(ExperimentConfig, config) for config in info["configs"]]
        out, overwrite = args.resume, bool(info.get("overwrite"))
    else:
        if not args.config or args.out is None:
            raise rundir.ResumeError(f"cinesense {command}: --config and --out are required (or --resume DIR)")
        if command == "train" and len(args.config) > 1:
            raise rundir.ResumeError("cinesense train takes one --config")
        configs = [load_config(path, args.overrides) for path in args.config]
        out, overwrite = args.out, args.overwrite
    if args.device:
        configs = [
            dataclasses.replace(c, train=dataclasses.replace(c.train, device=args.device),
                                image_train=dataclasses.replace(c.image_train, device=args.device))
            for c in configs
        ]
    return configs, out, overwrite


@contextmanager
def _resumable_run(command: str, configs: list[ExperimentConfig], out: Path, overwrite: bool, resume: bool) -> Iterator[Path]:
    """The run folder (``rundir.run_folder``; on ranks other than 0 of a torchrun group, a scratch
    folder), with every fit checkpointed beside ``out`` and resumed from there with ``resume``. The
    checkpoints are deleted once the run is in place."""
    from cinesense import checkpoint, distributed

    distributed.init_from_env(distributed.resolve_device(configs[0].train.device))  # under torchrun: join the group first
    rundir.check_out_folder(out, overwrite or resume)
    folder = rundir.checkpoint_folder(out)
    if distributed.is_main():
        rundir.remove_stale_partials(out)
        if not resume and folder.exists():
            print(f"note: {folder} holds the checkpoints of an interrupted run; starting afresh (cinesense {command} --resume {out} continues it)")
            shutil.rmtree(folder)
        rundir.save_resume_info(out, {"command": command, "configs": [c.to_dict() for c in configs], "overwrite": overwrite, "argv": sys.argv[1:]})
    distributed.barrier()
    with checkpoint.checkpointing(folder / "fits", resume=resume):
        if distributed.is_main():
            with rundir.run_folder(out, overwrite=overwrite or resume) as run:  # in place only when the run succeeds
                yield run
        else:
            with tempfile.TemporaryDirectory(prefix="cinesense-rank-") as scratch:
                yield Path(scratch)
    distributed.barrier()
    if distributed.is_main():
        (folder / rundir.RESUME_FILE).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


def run_train(args: argparse.Namespace) -> int:
    from cinesense import distributed
    from cinesense.jobs import train_run

    (config,), out, overwrite = _configs(args, "train")
    with _resumable_run("train", [config], out, overwrite, resume=args.resume is not None) as folder:
        run = train_run(config, folder, argv=["cinesense", *sys.argv[1:]], progress=not args.quiet and distributed.is_main())
    dev = run.metrics.get("dev")
    shown = f"; dev accuracy {dev['accuracy']:.4f}, macro-F1 {dev['macro_f1']:.4f}" if dev else ""
    if distributed.is_main():
        print(f"saved model to {out} ({run.seconds:.0f}s{shown})")
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
    from cinesense import default_model, distributed
    from cinesense.jobs import reproduce, reproduce_many

    configs, out, overwrite = _configs(args, "reproduce")
    argv = ["cinesense", *sys.argv[1:]]
    progress = not args.quiet and distributed.is_main()
    with _resumable_run("reproduce", configs, out, overwrite, resume=args.resume is not None) as folder:  # the whole --out is one unit
        if len(configs) == 1:
            report = reproduce(configs[0], folder, argv=argv, progress=progress)
        else:
            report = reproduce_many(configs, folder, argv=argv, progress=progress)
    if not distributed.is_main():
        return 0
    print(f"report written to {out / report.relative_to(folder)}")
    for config in configs:  # once the run folder is in place
        if config.product:
            model = out / (config.product if len(configs) == 1 else Path(config.name) / config.product)
            print(f"default model: {model} (Classifier.load('default'); pointer {default_model.register(model)})")
    return 0


COMMANDS = {"train": run_train, "evaluate": run_evaluate, "reproduce": run_reproduce}
