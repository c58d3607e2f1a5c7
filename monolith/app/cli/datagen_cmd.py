"""``monolith datagen``: synthetic click logs with a known optimum."""

from __future__ import annotations

import sys

import click


@click.command("datagen")
@click.option("--out", "out_dir", required=True, help="Output directory (path or URI).")
@click.option("--rows", type=int, required=True, help="Rows over both splits.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--slots", type=int, default=8, show_default=True, help="Sparse slots.")
@click.option(
    "--eval-fraction",
    type=float,
    default=0.1,
    show_default=True,
    help="Share of rows written to eval-*.tfrecord.",
)
@click.option(
    "--shards", type=int, default=1, show_default=True, help="Files per split."
)
@click.option(
    "--vocab-size", type=int, default=100, show_default=True, help="Fids per slot."
)
def datagen(
    out_dir: str,
    rows: int,
    seed: int,
    slots: int,
    eval_fraction: float,
    shards: int,
    vocab_size: int,
) -> None:
    """Write train/eval TFRecords of tf.train.Example drawn from a planted model.

    DIR/meta.json records the feature spec, the seed and the Bayes-optimal AUC
    of each split (bayes_auc_train, bayes_auc_eval).
    """
    from tqdm import tqdm

    from monolith.app.data.datagen import generate
    from monolith.app.storage import filesystem_for

    fs = filesystem_for(out_dir)
    with tqdm(
        total=rows, unit="rows", disable=not sys.stderr.isatty(), file=sys.stderr
    ) as bar:
        result = generate(
            fs,
            out_dir,
            rows,
            seed,
            slots=slots,
            eval_fraction=eval_fraction,
            shards=shards,
            vocab_size=vocab_size,
            progress=bar.update,
        )
    meta = result.meta
    click.echo(
        f"wrote {meta['train_rows']} train and {meta['eval_rows']} eval rows to "
        f"{result.out_dir}"
    )
    click.echo(
        f"bayes_auc_train={_fmt(meta['bayes_auc_train'])} "
        f"bayes_auc_eval={_fmt(meta['bayes_auc_eval'])}"
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
