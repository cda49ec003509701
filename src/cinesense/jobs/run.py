"""``cinesense reproduce``: a config's job (the text, image or fused job) run into a folder and
written from its results; several configs side by side in one combined report."""

from __future__ import annotations

import time
from pathlib import Path

from cinesense.config import ExperimentConfig
from cinesense.evaluate.report import summary_table, write_report
from cinesense.jobs.fused import run_fused_job
from cinesense.jobs.image import run_image_job
from cinesense.jobs.report import table_heading
from cinesense.jobs.results import JobResults
from cinesense.jobs.text import run_text_job
from cinesense.jobs.write import write_run
from cinesense.progress import say

JOBS = {"text": run_text_job, "image": run_image_job, "fused": run_fused_job}


def run_job(config: ExperimentConfig, out: str | Path, argv: list[str] | None = None, progress: bool = True) -> JobResults:
    """Train and score every system of ``config`` once, write the run folder ``out`` from the
    results (report, figures, JSON files) and return them."""
    if config.modality not in JOBS:
        raise ValueError(f"reproduce runs a text, image or fused config, not modality {config.modality!r}")
    out = Path(out)
    started = time.perf_counter()
    job = JOBS[config.modality](config, out, argv, progress)
    write_run(job, out, argv, started)
    if config.product and not (out / config.product / "manifest.json").is_file():
        raise ValueError(f"product: {config.name}'s job wrote no model {config.product!r} (its models: "
                         f"{', '.join(sorted(p.parent.name for p in out.glob('*/manifest.json')))})")
    return job


def reproduce(config: ExperimentConfig, out: str | Path, argv: list[str] | None = None, progress: bool = True) -> Path:
    """Run the whole experiment into ``out``; returns the report's path."""
    return run_job(config, out, argv, progress).report


def reproduce_many(
    configs: list[ExperimentConfig], out: str | Path, argv: list[str] | None = None, progress: bool = True
) -> Path:
    """Several data sets in one report: each config's job runs into ``out/<name>``; ``out/report.md``
    puts their result tables side by side and links every full report."""
    out = Path(out)
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"configs must have distinct names (they name the run folders), got {names}")
    started = time.perf_counter()
    sections = []
    for config in configs:
        say(progress, f"== {config.name}")
        job = run_job(config, out / config.name, argv, progress)
        results = {s.name: {"metrics": s.metrics} for s in job.systems}
        sections.append((f"{config.name}: {table_heading(job)}", summary_table(results)
                         + f"\n\nData, intervals, figures and caveats: [{config.name}/report.md]({config.name}/report.md)."))
    sections.append(("Reproduce", f"`{' '.join(argv) if argv else 'cinesense reproduce'}` — {time.perf_counter() - started:.0f} s."))
    return write_report(out / "report.md", "cinesense report: " + ", ".join(names), sections)
