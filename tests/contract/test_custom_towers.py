"""The extension point: a user's torch.nn.Module or Keras model as the tower."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from monolith.domain.model_spec import ModelSpec
from monolith.domain.tower_plan import MASK_SUFFIX
from monolith.ports.compute import ComputeBackend
from monolith.testing.contracts.compute import contract_spec
from monolith.testing.toy_tables import random_inputs

pytestmark = pytest.mark.contract


def _pooled_width(spec: ModelSpec) -> int:
    return sum(spec.table(s.table).width for s in spec.slots) + spec.dense_features


def torch_factory(spec: ModelSpec) -> Any:
    torch = pytest.importorskip("torch")

    class SlotLinear(torch.nn.Module):  # type: ignore[misc]
        """Linear over pooled slots; sequence slots averaged with their mask."""

        def __init__(self) -> None:
            super().__init__()
            self.hidden = torch.nn.Linear(_pooled_width(spec), 8)
            self.head = torch.nn.Linear(8, 1)

        def forward(self, features: dict[str, Any], dense: Any) -> Any:
            parts = []
            for slot in spec.slots:
                value = features[slot.name]
                if slot.pooling == "sequence":
                    mask = features[slot.name + MASK_SUFFIX].unsqueeze(-1)
                    value = (value * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                parts.append(value)
            return self.head(torch.tanh(self.hidden(torch.cat([*parts, dense], 1))))

    return SlotLinear()


def keras_factory(spec: ModelSpec) -> Any:
    tf = pytest.importorskip("tensorflow")

    class SlotLinear(tf.keras.Model):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.hidden = tf.keras.layers.Dense(8, activation="tanh")
            self.head = tf.keras.layers.Dense(1)

        def call(self, features: dict[str, Any], dense: Any) -> Any:
            parts = []
            for slot in spec.slots:
                value = features[slot.name]
                if slot.pooling == "sequence":
                    mask = features[slot.name + MASK_SUFFIX][:, :, None]
                    total = tf.reduce_sum(value * mask, 1)
                    value = total / tf.maximum(tf.reduce_sum(mask, 1), 1.0)
                parts.append(value)
            return self.head(self.hidden(tf.concat([*parts, dense], 1)))

    return SlotLinear()


def _backend(kind: str) -> ComputeBackend:
    if kind == "torch":
        module = pytest.importorskip("monolith.adapters.compute.torch_compute")
        backend: ComputeBackend = module.TorchCompute(module_factory=torch_factory)
    else:
        module = pytest.importorskip("monolith.adapters.compute.tf_compute")
        backend = module.TfCompute(model_factory=keras_factory)
    return backend


BACKENDS = ["torch", pytest.param("tf", marks=pytest.mark.slow)]


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_custom_tower_trains_and_its_gradients_reach_the_rows(kind: str) -> None:
    spec = contract_spec("mlp")
    backend = _backend(kind)
    backend.build(spec)
    inputs = random_inputs(spec, batch=32, seed=1)
    labels = (np.arange(32) % 2).astype(np.float32)

    first = backend.compute_gradients(inputs, labels)
    for _ in range(30):
        backend.apply_dense_gradients(
            backend.compute_gradients(inputs, labels).dense_grads
        )
    last = backend.compute_gradients(inputs, labels)

    assert last.loss < first.loss
    for name, slot in inputs.slots.items():
        assert first.slot_grads[name].shape == slot.rows.shape
        assert np.abs(first.slot_grads[name]).sum() > 0
    assert first.predictions.shape == (32,)


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_custom_tower_is_seeded_and_its_state_round_trips(kind: str) -> None:
    spec = contract_spec("mlp")
    inputs = random_inputs(spec, batch=8, seed=2)
    trained = _backend(kind)
    trained.build(spec)
    labels = np.ones(8, np.float32)
    trained.apply_dense_gradients(trained.compute_gradients(inputs, labels).dense_grads)

    twin = _backend(kind)
    twin.build(spec)
    fresh = _backend(kind)
    fresh.build(spec)
    twin.load_state(trained.state())

    np.testing.assert_array_equal(twin.predict(inputs), trained.predict(inputs))
    names = sorted(fresh.parameters())
    assert len(names) == 4
    for name in names:
        assert np.array_equal(
            fresh.parameters()[name], _backend_params(kind, spec)[name]
        )


def _backend_params(kind: str, spec: ModelSpec) -> dict[str, np.ndarray]:
    backend = _backend(kind)
    backend.build(spec)
    return backend.parameters()
