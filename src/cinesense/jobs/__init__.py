"""The jobs above the models: ``cinesense train`` (one model of a config, :func:`train_run`) and
``cinesense reproduce`` (every system of a config trained once and scored side by side,
:func:`run_job`), each run folder written from the results the job returns.

- ``training_run``: the run record, the data, the split the tables score; ``train_run``.
- ``text`` / ``fused``: the two jobs (what each trains and scores); ``fused_report``: the fused report.
- ``results``: what a job returns; ``write``: the run folder written from it; ``report``,
  ``attention``, ``scoring``, ``environment``: the pieces that writing uses.
- ``run``: ``reproduce`` and ``reproduce_many``.

Nothing below this package imports it."""

from cinesense.jobs.results import JobResults, System
from cinesense.jobs.run import reproduce, reproduce_many, run_job
from cinesense.jobs.training_run import TrainedRun, train_run

__all__ = ["JobResults", "System", "TrainedRun", "reproduce", "reproduce_many", "run_job", "train_run"]
