"""TfCompute's fused paths agree with the torch backend.

The shared contract spec mixes table widths and a sequence slot, so it runs
the per-group pooling but not the single-grid tower (``fits_grid``). These
specs do: every slot pooled from tables of one width, as in DeepFM.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("torch")

from monolith.adapters.compute.tf_compute import TfCompute  # noqa: E402
from monolith.adapters.compute.torch_compute import TorchCompute  # noqa: E402
from monolith.domain.embedding.config import TableConfig  # noqa: E402
from monolith.domain.errors import ComputeError  # noqa: E402
from monolith.domain.model_spec import (  # noqa: E402
    DenseOptimizerSpec,
    ModelSpec,
    SlotSpec,
    TowerSpec,
)
from monolith.ports.compute import ComputeBackend, SlotInput, TowerInputs  # noqa: E402
from monolith.testing.toy_tables import random_inputs  # noqa: E402

pytestmark = [pytest.mark.contract, pytest.mark.slow]


def _uniform_spec(kind: str, has_bias: bool) -> ModelSpec:
    tables = tuple(TableConfig(f"t{i}", 4, has_bias=has_bias) for i in range(3))
    return ModelSpec(
        name=f"fused-{kind}",
        tables=tables,
        slots=(
            SlotSpec("a", "t0"),
            SlotSpec("b", "t1", pooling="mean"),
            SlotSpec("c", "t2"),
            SlotSpec("d", "t0", pooling="mean"),
        ),
        dense_features=3,
        tower=TowerSpec(kind, (8, 6), "relu"),
        dense_optimizer=DenseOptimizerSpec("adagrad", 0.05, 1.0),
        seed=3,
    )


def _labels(batch: int) -> npt.NDArray[np.float32]:
    return np.random.default_rng(4).integers(0, 2, size=batch).astype(np.float32)


def _built(backend: ComputeBackend, spec: ModelSpec) -> ComputeBackend:
    backend.build(spec)
    return backend


@pytest.mark.parametrize("kind", ["deepfm", "mlp"])
@pytest.mark.parametrize("has_bias", [True, False])
def test_a_single_width_tower_matches_torch_in_scores_gradients_and_updates(
    kind: str, has_bias: bool
) -> None:
    spec = _uniform_spec(kind, has_bias)
    ours = _built(TfCompute(), spec)
    reference = _built(TorchCompute(), spec)
    inputs = random_inputs(spec, batch=24, seed=5)

    a = ours.compute_gradients(inputs, _labels(24))
    b = reference.compute_gradients(inputs, _labels(24))
    ours.apply_dense_gradients(a.dense_grads)
    reference.apply_dense_gradients(b.dense_grads)

    np.testing.assert_allclose(a.predictions, b.predictions, atol=1e-5)
    assert a.loss == pytest.approx(b.loss, abs=1e-5)
    assert list(a.slot_grads) == list(b.slot_grads)
    for name, grad in b.slot_grads.items():
        assert a.slot_grads[name].shape == inputs.slots[name].rows.shape
        np.testing.assert_allclose(a.slot_grads[name], grad, atol=1e-5)
    for name, value in reference.parameters().items():
        np.testing.assert_allclose(ours.parameters()[name], value, atol=1e-5)


def test_a_batch_with_an_empty_slot_gives_an_empty_gradient_for_it() -> None:
    spec = _uniform_spec("deepfm", True)
    backend = _built(TfCompute(), spec)
    inputs = random_inputs(spec, batch=6, seed=1)
    empty = SlotInput(
        np.zeros((0, 5), np.float32),
        np.zeros(0, np.int64),
        np.zeros(7, np.int64),
    )
    slots = {**inputs.slots, "c": empty}

    result = backend.compute_gradients(TowerInputs(slots, inputs.dense), _labels(6))

    assert result.slot_grads["c"].shape == (0, 5)
    assert np.isfinite(result.loss)


def test_an_index_outside_the_slot_rows_is_a_compute_error() -> None:
    spec = _uniform_spec("deepfm", True)
    backend = _built(TfCompute(), spec)
    inputs = random_inputs(spec, batch=6, seed=1)
    bad = inputs.slots["a"]
    slots = {
        **inputs.slots,
        "a": SlotInput(bad.rows, bad.index + bad.rows.shape[0], bad.row_splits),
    }

    with pytest.raises(ComputeError, match="slot 'a' index"):
        backend.compute_gradients(TowerInputs(slots, inputs.dense), _labels(6))


def test_row_splits_that_do_not_fit_the_batch_are_a_compute_error() -> None:
    spec = _uniform_spec("mlp", False)
    backend = _built(TfCompute(), spec)
    inputs = random_inputs(spec, batch=6, seed=1)
    bad = inputs.slots["b"]
    slots = {**inputs.slots, "b": SlotInput(bad.rows, bad.index, bad.row_splits[:-1])}

    with pytest.raises(ComputeError, match="slot 'b' row_splits"):
        backend.predict(TowerInputs(slots, inputs.dense))


def test_varying_batch_and_row_counts_do_not_retrace() -> None:
    spec = _uniform_spec("deepfm", True)
    backend = TfCompute()
    backend.build(spec)

    for batch, seed in ((5, 1), (9, 2), (17, 3)):
        inputs = random_inputs(spec, batch=batch, seed=seed)
        result = backend.compute_gradients(inputs, _labels(batch))
        backend.apply_dense_gradients(result.dense_grads)
        backend.predict(inputs)

    # Each graph is traced once, when the backend is built.
    assert backend.trace_counts() == {"train": 1, "apply": 1, "predict": 1}
