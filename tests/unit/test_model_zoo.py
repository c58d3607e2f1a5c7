from __future__ import annotations

import json

import numpy as np
import pytest

from monolith.app.tasks import resolve_task, resolve_task_class
from monolith.domain.batch import RaggedFids
from monolith.domain.errors import ConfigError, TaskNotFoundError
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.model_spec import (
    ModelSpec,
    model_spec_from_dict,
    model_spec_to_dict,
)
from monolith.domain.tower_plan import plan_tower
from monolith.examples.stock import STOCK_FEATURES, generate_stock_data, take
from monolith.ports.compute import ComputeBackend
from monolith.testing.toy_tables import ToyTables, random_fids

pytestmark = pytest.mark.unit

ZOO = [
    "examples.ctr.DeepFM",
    "examples.movielens.Ranking",
    "examples.sequence.DIN",
    "examples.sequence.DIEN",
    "examples.stock.DIEN",
]
CTR = FeatureSpec(sparse=("a", "b", "c"), dense=("x", "y"))
SEQ = FeatureSpec(sparse=("user", "item", "history"), dense=("x",))
FEATURES = {
    "examples.ctr.DeepFM": CTR,
    "examples.movielens.Ranking": FeatureSpec(sparse=("mov", "uid")),
    "examples.sequence.DIN": SEQ,
    "examples.sequence.DIEN": SEQ,
    "examples.stock.DIEN": STOCK_FEATURES,
}


def _spec(name: str, **options: object) -> ModelSpec:
    if "DIN" in name or "DIEN" in name:
        options.setdefault("max_len", 5)  # a short unroll keeps TF traces quick
    return resolve_task(name).build_spec(FEATURES[name], hidden="16,8", **options)


@pytest.mark.parametrize("name", ZOO)
def test_each_zoo_task_resolves_by_short_and_full_name(name: str) -> None:
    short = resolve_task_class(name)

    full = resolve_task_class("monolith." + name)

    assert short is full
    assert f"{full.__module__}.{full.__qualname__}" == "monolith." + name


def test_an_unknown_zoo_class_lists_the_zoo_in_the_error() -> None:
    with pytest.raises(
        TaskNotFoundError, match="examples.ctr.Nope.*monolith.examples.ctr.DeepFM"
    ):
        resolve_task_class("examples.ctr.Nope")


@pytest.mark.parametrize("name", ZOO)
def test_each_zoo_spec_is_a_valid_json_safe_tower(name: str) -> None:
    spec = _spec(name)

    plan = plan_tower(spec)
    restored = model_spec_from_dict(json.loads(json.dumps(model_spec_to_dict(spec))))

    assert restored == spec
    assert {s.name for s in plan.slots} == set(FEATURES[name].sparse)
    assert spec.dense_features == len(FEATURES[name].dense)


def test_deepfm_defaults_to_dim_16_adagrad_tables_with_bias_and_sum_pooling() -> None:
    spec = resolve_task("examples.ctr.DeepFM").build_spec(CTR)

    assert [t.name for t in spec.tables] == ["a", "b", "c"]
    assert {(t.dim, t.has_bias, t.optimizer.kind) for t in spec.tables} == {
        (16, True, "adagrad")
    }
    assert {s.pooling for s in spec.slots} == {"sum"}
    assert spec.tower.kind == "deepfm" and spec.tower.hidden == (400, 400, 400)


def test_deepfm_can_share_one_table_across_its_slots() -> None:
    spec = resolve_task("examples.ctr.DeepFM").build_spec(CTR, share_table="true")

    assert [t.name for t in spec.tables] == ["fids"]
    assert spec.tables[0].has_bias and spec.tables[0].dim == 16
    assert [(s.name, s.table) for s in spec.slots] == [
        ("a", "fids"),
        ("b", "fids"),
        ("c", "fids"),
    ]


def test_pooling_can_be_chosen_per_slot_from_a_string_option() -> None:
    spec = resolve_task("examples.ctr.DeepFM").build_spec(CTR, pooling="b:mean")

    assert [s.pooling for s in spec.slots] == ["sum", "mean", "sum"]


def test_movielens_ranking_is_the_original_two_id_mse_regression() -> None:
    task = resolve_task("examples.movielens.Ranking")

    spec = task.build_spec(FeatureSpec(sparse=("mov", "uid")))

    assert spec.loss == "mse" and spec.tower.kind == "mlp"
    assert spec.tower.hidden == (256, 64)
    assert [t.dim for t in spec.tables] == [32, 32]
    assert spec.dense_optimizer.kind == "adagrad"


def test_sequence_tasks_share_the_item_table_and_pad_the_history() -> None:
    spec = resolve_task("examples.sequence.DIN").build_spec(SEQ, max_len=7)

    history = next(s for s in spec.slots if s.name == "history")
    assert history.table == "item" and history.pooling == "sequence"
    assert history.max_len == 7
    assert [t.name for t in spec.tables] == ["user", "item"]


def test_an_unknown_option_is_refused_and_the_known_ones_listed() -> None:
    with pytest.raises(ConfigError, match="no option.*colour.*known options: .*dim"):
        resolve_task("examples.ctr.DeepFM").build_spec(CTR, colour="red")


def test_a_sequence_task_without_its_slots_names_them() -> None:
    with pytest.raises(
        ConfigError, match="target_slot 'item'.*sequence_slot 'history'"
    ):
        resolve_task("examples.sequence.DIEN").build_spec(CTR)


def test_the_stock_generator_is_deterministic_and_has_a_known_optimum() -> None:
    first = generate_stock_data(3000, seed=4)
    second = generate_stock_data(3000, seed=4)

    np.testing.assert_array_equal(first.batch.label, second.batch.label)
    moves = first.batch.sparse["moves"]
    lengths = np.diff(moves.row_splits)
    assert lengths.min() >= 3 and lengths.max() <= 30
    assert set(first.batch.sparse) == set(STOCK_FEATURES.sparse)
    assert np.all((moves.values >> 48) == 3)
    assert 0.3 < first.batch.label.mean() < 0.7
    assert np.all((first.probability > 0) & (first.probability < 1))
    positives = first.probability[first.batch.label > 0.5].mean()
    negatives = first.probability[first.batch.label < 0.5].mean()
    assert positives > negatives + 0.05


def test_take_cuts_examples_with_their_ragged_rows() -> None:
    data = generate_stock_data(50, seed=1)

    part = take(data, 10, 20)

    moves = part.batch.sparse["moves"]
    assert moves.batch_size == 10
    full = data.batch.sparse["moves"]
    np.testing.assert_array_equal(moves.row(0), full.row(10))
    np.testing.assert_array_equal(part.batch.label, data.batch.label[10:20])


def _run(backend: ComputeBackend, spec: ModelSpec) -> None:
    rng = np.random.default_rng(0)
    tables = ToyTables(spec, vocab=30)
    fids = random_fids(spec, batch=9, vocab=30, rng=rng)
    fids = {k: RaggedFids(v.values, v.row_splits) for k, v in fids.items()}
    dense = rng.normal(size=(9, spec.dense_features)).astype(np.float32)
    inputs = tables.inputs(fids, dense)

    backend.build(spec)
    result = backend.compute_gradients(inputs, np.ones(9, np.float32))

    assert result.predictions.shape == (9,)
    assert np.isfinite(result.loss)
    for name, slot in inputs.slots.items():
        assert result.slot_grads[name].shape == slot.rows.shape


@pytest.mark.parametrize("name", ZOO)
def test_each_zoo_model_runs_on_torch(name: str) -> None:
    torch_compute = pytest.importorskip("monolith.adapters.compute.torch_compute")

    _run(torch_compute.TorchCompute(), _spec(name))


def test_dien_with_a_gru_hidden_size_unlike_the_dim_runs_on_torch() -> None:
    torch_compute = pytest.importorskip("monolith.adapters.compute.torch_compute")

    spec = _spec("examples.sequence.DIEN", gru_hidden=7, dim=5)

    assert plan_tower(spec).gru_hidden == 7
    _run(torch_compute.TorchCompute(), spec)


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_each_zoo_model_runs_on_tf(name: str) -> None:
    tf_compute = pytest.importorskip("monolith.adapters.compute.tf_compute")

    _run(tf_compute.TfCompute(), _spec(name))


@pytest.mark.slow
def test_dien_with_a_gru_hidden_size_unlike_the_dim_runs_on_tf() -> None:
    tf_compute = pytest.importorskip("monolith.adapters.compute.tf_compute")

    _run(tf_compute.TfCompute(), _spec("examples.sequence.DIEN", gru_hidden=7, dim=5))
