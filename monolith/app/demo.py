"""``monolith demo``: the whole loop on embedded defaults.

Stages, in order: generate synthetic click logs with a known optimum, train
DeepFM on them, evaluate on the held-out split and report the AUC next to the
optimum (``bayes_auc_eval``), then export the model (int8, validated), serve
it over gRPC in this process, score the eval split through a gRPC client and
shut the server down (docs/serving.md). Each stage is a function taking the
:class:`DemoRun` so later stages (export, serve, query) can be appended to
:data:`STAGES` without touching the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs

from monolith.app.data.datagen import generate
from monolith.app.training.estimator import EvalResult
from monolith.app.training.session import train_from_config
from monolith.domain.config import RunConfig
from monolith.domain.config_fields import Backend
from monolith.domain.errors import UsageError
from monolith.domain.paths import join
from monolith.ports.clock import Clock
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

DEMO_TASK = "examples.ctr.DeepFM"


@attrs.frozen
class DemoSettings:
    """The demo's embedded defaults; every field can be overridden."""

    rows: int = 1_000_000
    seed: int = 0
    steps: int = 2000
    batch_size: int = 512
    save_steps: int = 200
    backend: Backend = "torch"
    task: str = DEMO_TASK
    task_options: tuple[tuple[str, Any], ...] = ()


@attrs.define
class DemoRun:
    """State the stages share: where things are and what they found."""

    fs: FileSystem
    clock: Clock
    out_dir: str
    settings: DemoSettings
    echo: Callable[[str], None]
    meta: dict[str, Any] = attrs.field(factory=dict)
    evaluation: EvalResult | None = None
    lines: list[str] = attrs.field(factory=list)

    @property
    def data_dir(self) -> str:
        return join(self.out_dir, "data")

    @property
    def model_dir(self) -> str:
        return join(self.out_dir, "model")

    def say(self, line: str) -> None:
        self.lines.append(line)
        self.echo(line)


def stage_datagen(run: DemoRun) -> None:
    """Write train/eval TFRecords and meta.json (skipped if already there)."""
    meta_path = join(run.data_dir, "meta.json")
    if run.fs.exists(meta_path):
        from monolith.app.data.pipeline import read_meta

        run.meta = read_meta(run.fs, run.data_dir)
        run.say(f"data: reusing {run.data_dir} ({run.meta.get('rows')} rows)")
        return
    result = generate(run.fs, run.data_dir, run.settings.rows, run.settings.seed)
    run.meta = dict(result.meta)
    run.say(
        f"data: {run.meta['train_rows']} train + {run.meta['eval_rows']} eval rows "
        f"in {run.data_dir}"
    )


def stage_train(run: DemoRun) -> None:
    """Train the demo task, then evaluate it on the eval split."""
    s = run.settings
    config = RunConfig(
        task=s.task,
        backend=s.backend,
        data=str(run.meta["train_pattern"]),
        eval_data=str(run.meta["eval_pattern"]),
        model_dir=run.model_dir,
        steps=s.steps,
        batch_size=s.batch_size,
        save_checkpoints_steps=s.save_steps,
        seed=s.seed,
    )
    report = train_from_config(
        config.to_runner_config(),
        fs=run.fs,
        clock=run.clock,
        task_options=dict(s.task_options),
    )
    run.evaluation = report.evaluation
    run.say(
        f"train: {s.task} on {s.backend}, step {report.outcome.last_step} "
        f"(from {report.outcome.start_step}), model in {run.model_dir}"
    )


def stage_report(run: DemoRun) -> None:
    """Print the model's eval AUC next to the optimum."""
    if run.evaluation is None or run.evaluation.auc is None:
        raise UsageError("the demo has no evaluation to report; train first")
    optimum = float(run.meta["bayes_auc_eval"])
    gap = optimum - run.evaluation.auc
    run.say(
        f"auc={run.evaluation.auc:.4f} optimum={optimum:.4f} gap={gap:.4f} "
        f"logloss={run.evaluation.logloss:.4f} examples={run.evaluation.examples}"
    )


def stage_serve(run: DemoRun) -> None:
    """Export as int8, serve over gRPC, score the eval split remotely, stop."""
    from monolith.app.serving.demo_tail import export_serve_predict

    export_serve_predict(
        run.model_dir, run.out_dir, str(run.meta["eval_pattern"]), echo=run.say
    )


Stage = Callable[[DemoRun], None]

STAGES: list[Stage] = [stage_datagen, stage_train, stage_report, stage_serve]
"""The demo's stages in order; later issues append export/serve/query."""


def run_demo(
    fs: FileSystem,
    clock: Clock,
    out_dir: str,
    settings: DemoSettings = DemoSettings(),
    *,
    echo: Callable[[str], None] = lambda line: None,
    stages: list[Stage] | None = None,
) -> DemoRun:
    """Run every stage and return what they found."""
    run = DemoRun(fs=fs, clock=clock, out_dir=out_dir, settings=settings, echo=echo)
    for stage in stages if stages is not None else STAGES:
        logger.info("demo stage started stage=%s", stage.__name__)
        stage(run)
    return run
