"""``--format saved_model`` for sequence towers (din, dien) of the TF backend."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from monolith.app.export.exporter import ExportRequest
from monolith.app.export.wiring import run_export
from monolith.app.serving.backends import make_compute
from monolith.app.serving.model import load_export
from monolith.domain.batch import RaggedFids
from monolith.domain.embedding.config import TableConfig
from monolith.domain.model_spec import ModelSpec, SlotSpec, TowerSpec
from monolith.domain.serving import PredictRequest
from tests.serving_support.checkpoints import write_checkpoint

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_LEN = 4
HISTORIES = [[-50, -43, -36, -29, -22, -15], [], [-8, 123456], [-1]]
USERS = [[-50], [-43, -36], [], [999]]
ITEMS = [[-29], [-22], [-15], [777]]


def _spec(kind: str) -> ModelSpec:
    options: list[tuple[str, object]] = [
        ("target_slot", "item_id"),
        ("sequence_slot", "history"),
        ("attention_hidden", [8]),
    ]
    if kind == "dien":
        options += [("gru_hidden", 6), ("evolution", "augru")]
    return ModelSpec(
        name=f"tiny-{kind}",
        tables=(TableConfig("user", 4), TableConfig("item", 4)),
        slots=(
            SlotSpec("user_id", "user", "mean"),
            SlotSpec("item_id", "item"),
            SlotSpec("history", "item", "sequence", MAX_LEN),
        ),
        dense_features=2,
        tower=TowerSpec(kind, hidden=(8,), options=tuple(options)),
        loss="bce",
        seed=5,
    )


def _ragged(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ragged = RaggedFids.from_lists(lists)
    return ragged.values, ragged.row_splits


Exporter = Callable[[str, int], str]


@pytest.fixture(scope="module")
def saved_model_of(tmp_path_factory: pytest.TempPathFactory) -> Exporter:
    """Export a small tf checkpoint of ``kind`` as a SavedModel (cached)."""
    done: dict[tuple[str, int], str] = {}

    def export(kind: str, bits: int) -> str:
        if (kind, bits) not in done:
            root = tmp_path_factory.mktemp(f"{kind}-{bits}")
            model_dir = str(root / "model")
            write_checkpoint(
                model_dir, step=7, backend="tf", spec=_spec(kind), scale=0.5
            )
            result = run_export(
                ExportRequest(
                    model_dir,
                    str(root / "exports"),
                    quantize_bits=bits,
                    format="saved_model",
                )
            )
            done[(kind, bits)] = result.path
        return done[(kind, bits)]

    return export


@pytest.mark.parametrize(("kind", "bits"), [("din", 32), ("dien", 8)])
def test_a_sequence_tower_saved_model_scores_like_monolith_serving(
    saved_model_of: Exporter, kind: str, bits: int
) -> None:
    tf = pytest.importorskip("tensorflow")
    dense = np.linspace(-1.0, 1.0, 8, dtype=np.float32).reshape(4, 2)

    path = saved_model_of(kind, bits)

    loaded = tf.saved_model.load(path)
    inputs = {"dense": tf.constant(dense)}
    for slot, lists in (("user_id", USERS), ("item_id", ITEMS), ("history", HISTORIES)):
        values, splits = _ragged(lists)
        inputs[f"{slot}_values"] = tf.constant(values, tf.int64)
        inputs[f"{slot}_row_splits"] = tf.constant(splits, tf.int64)
    saved = loaded.signatures["serving_default"](**inputs)["scores"].numpy()
    served = load_export(path, make_compute).predict(
        PredictRequest(
            slots={
                "user_id": RaggedFids.from_lists(USERS),
                "item_id": RaggedFids.from_lists(ITEMS),
                "history": RaggedFids.from_lists(HISTORIES),
            },
            dense=dense.ravel(),
            batch_size=4,
        )
    )
    assert saved.shape == (4,)
    np.testing.assert_allclose(saved, served, rtol=1e-5, atol=1e-5)
    assert np.unique(np.round(served, 6)).size > 1


def test_only_the_last_max_len_history_fids_change_the_saved_model_score(
    saved_model_of: Exporter,
) -> None:
    tf = pytest.importorskip("tensorflow")
    serve = tf.saved_model.load(saved_model_of("din", 32)).signatures["serving_default"]

    def score(history: list[int]) -> float:
        inputs = {"dense": tf.zeros([1, 2])}
        for slot, lists in (
            ("user_id", [[-50]]),
            ("item_id", [[-29]]),
            ("history", [history]),
        ):
            values, splits = _ragged(lists)
            inputs[f"{slot}_values"] = tf.constant(values, tf.int64)
            inputs[f"{slot}_row_splits"] = tf.constant(splits, tf.int64)
        return float(serve(**inputs)["scores"].numpy()[0])

    tail = [-43, -36, -22, -15]

    assert score([-8, *tail]) == pytest.approx(score([-1, *tail]), abs=1e-7)
    assert score(tail) != pytest.approx(score([-8, *tail[1:]]), abs=1e-7)
