"""The contract every :class:`~monolith.ports.compute.ComputeBackend` passes.

Subclass :class:`ComputeContract` and provide ``backend_factory``, a callable
returning a fresh, unbuilt backend. Optionally override ``reference_factory``
with another backend's factory: the suite then checks that both give the same
predictions and gradients from the same weights::

    class TestMyCompute(ComputeContract):
        @pytest.fixture
        def backend_factory(self):
            return MyCompute
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from monolith.domain.batch import RaggedFids
from monolith.domain.embedding.config import TableConfig
from monolith.domain.errors import ComputeError
from monolith.domain.metrics import auc
from monolith.domain.model_spec import (
    DenseOptimizerSpec,
    ModelSpec,
    SlotSpec,
    TowerSpec,
)
from monolith.domain.tower_plan import plan_tower
from monolith.ports.compute import ComputeBackend, TowerInputs
from monolith.testing.contracts.compute_support import (
    KINDS,
    contract_spec,
    labels_for,
    reference_updates,
    with_rows,
)
from monolith.testing.toy_tables import ToyTables, random_inputs

Factory = Callable[[], ComputeBackend]
Float32Array = npt.NDArray[np.float32]


class ComputeContract:
    """Behaviour every compute backend must show. Override ``backend_factory``."""

    @pytest.fixture
    def backend_factory(self) -> Factory:
        raise NotImplementedError("subclasses provide the backend_factory fixture")

    @pytest.fixture
    def reference_factory(self) -> Factory | None:
        return None

    def _built(self, factory: Factory, spec: ModelSpec) -> ComputeBackend:
        backend = factory()
        backend.build(spec)
        return backend

    # ------------------------------------------------------------ structure

    @pytest.mark.parametrize("kind", KINDS)
    def test_parameters_have_the_planned_names_and_shapes(
        self, backend_factory: Factory, kind: str
    ) -> None:
        spec = contract_spec(kind)

        backend = self._built(backend_factory, spec)

        shapes = {n: v.shape for n, v in backend.parameters().items()}
        assert shapes == plan_tower(spec).parameter_shapes()

    @pytest.mark.parametrize("kind", KINDS)
    def test_results_have_one_score_per_example_and_one_grad_per_unique_row(
        self, backend_factory: Factory, kind: str
    ) -> None:
        spec = contract_spec(kind)
        backend = self._built(backend_factory, spec)
        inputs = random_inputs(spec, batch=16, seed=3)

        result = backend.compute_gradients(inputs, labels_for(16))

        assert result.predictions.shape == (16,)
        assert np.all((result.predictions > 0) & (result.predictions < 1))
        assert np.isfinite(result.loss)
        for name, slot in inputs.slots.items():
            assert result.slot_grads[name].shape == slot.rows.shape
        assert {n: g.shape for n, g in result.dense_grads.items()} == {
            n: p.shape for n, p in backend.parameters().items()
        }
        np.testing.assert_allclose(
            backend.predict(inputs), result.predictions, rtol=1e-6
        )

    def test_an_unknown_tower_kind_is_a_compute_error(
        self, backend_factory: Factory
    ) -> None:
        spec = contract_spec("mlp", tower=TowerSpec("transformer-xxl"))

        with pytest.raises(ComputeError, match="unknown tower kind 'transformer-xxl'"):
            backend_factory().build(spec)

    def test_using_a_backend_before_build_is_a_compute_error(
        self, backend_factory: Factory
    ) -> None:
        inputs = random_inputs(contract_spec("mlp"), batch=4)

        with pytest.raises(ComputeError, match="build"):
            backend_factory().predict(inputs)

    def test_a_missing_slot_in_the_inputs_is_a_compute_error(
        self, backend_factory: Factory
    ) -> None:
        spec = contract_spec("mlp")
        backend = self._built(backend_factory, spec)
        inputs = random_inputs(spec, batch=4)
        partial = TowerInputs(
            {k: v for k, v in inputs.slots.items() if k != "user"}, inputs.dense
        )

        with pytest.raises(ComputeError, match="'user'"):
            backend.predict(partial)

    # ------------------------------------------------------------ gradients

    @pytest.mark.parametrize("kind", KINDS)
    def test_gradients_match_finite_differences(
        self, backend_factory: Factory, kind: str
    ) -> None:
        spec = contract_spec(kind)
        backend = self._built(backend_factory, spec)
        inputs = random_inputs(spec, batch=12, seed=5)
        labels = labels_for(12)
        rng = np.random.default_rng(11)
        result = backend.compute_gradients(inputs, labels)
        eps = 1e-2

        params = backend.parameters()
        direction = {
            n: rng.normal(size=p.shape).astype(np.float32) for n, p in params.items()
        }
        losses = []
        for sign in (1.0, -1.0):
            backend.load_parameters(
                {n: p + sign * eps * direction[n] for n, p in params.items()}
            )
            losses.append(backend.compute_gradients(inputs, labels).loss)
        backend.load_parameters(params)
        numeric = (losses[0] - losses[1]) / (2 * eps)
        analytic = sum(
            float(np.sum(result.dense_grads[n] * d)) for n, d in direction.items()
        )
        assert numeric == pytest.approx(analytic, rel=2e-2, abs=1e-4)

        for slot, slot_input in inputs.slots.items():
            step = rng.normal(size=slot_input.rows.shape).astype(np.float32)
            losses = []
            for sign in (1.0, -1.0):
                moved = {n: s.rows for n, s in inputs.slots.items()}
                moved[slot] = slot_input.rows + sign * eps * step
                losses.append(
                    backend.compute_gradients(with_rows(inputs, moved), labels).loss
                )
            numeric = (losses[0] - losses[1]) / (2 * eps)
            analytic = float(np.sum(result.slot_grads[slot] * step))
            assert numeric == pytest.approx(analytic, rel=2e-2, abs=1e-4), slot

    def test_mse_loss_gradient_matches_finite_differences_and_scores_are_raw(
        self, backend_factory: Factory
    ) -> None:
        spec = contract_spec("mlp", loss="mse")
        backend = self._built(backend_factory, spec)
        inputs = random_inputs(spec, batch=10, seed=2)
        labels = np.linspace(-3, 3, 10).astype(np.float32)
        result = backend.compute_gradients(inputs, labels)
        bias = backend.parameters()
        eps = 1e-2

        losses = []
        for sign in (1.0, -1.0):
            moved = dict(bias)
            moved["out.bias"] = bias["out.bias"] + sign * eps
            backend.load_parameters(moved)
            losses.append(backend.compute_gradients(inputs, labels).loss)

        assert (losses[0] - losses[1]) / (2 * eps) == pytest.approx(
            float(result.dense_grads["out.bias"][0]), rel=1e-2, abs=1e-3
        )
        assert result.loss == pytest.approx(
            float(np.mean((result.predictions - labels) ** 2)), rel=1e-4
        )

    def test_computing_gradients_does_not_change_parameters(
        self, backend_factory: Factory
    ) -> None:
        spec = contract_spec("deepfm")
        backend = self._built(backend_factory, spec)
        before = backend.parameters()

        backend.compute_gradients(random_inputs(spec, 8), labels_for(8))

        after = backend.parameters()
        for name in before:
            np.testing.assert_array_equal(before[name], after[name])

    # ------------------------------------------------------------ optimizer

    @pytest.mark.parametrize("kind", ["sgd", "adagrad", "adam"])
    def test_dense_optimizer_follows_the_shared_update_rule(
        self, backend_factory: Factory, kind: str
    ) -> None:
        spec = contract_spec("mlp", dense_optimizer=DenseOptimizerSpec(kind, 0.1, 0.0))
        backend = self._built(backend_factory, spec)
        params = backend.parameters()
        rng = np.random.default_rng(0)
        steps = [
            {n: rng.normal(size=p.shape).astype(np.float32) for n, p in params.items()}
            for _ in range(3)
        ]

        for grads in steps:
            backend.apply_dense_gradients(grads)

        expected = reference_updates(kind, 0.1, params, steps)
        for name, value in backend.parameters().items():
            np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-6)

    def test_gradients_are_clipped_to_the_global_norm(
        self, backend_factory: Factory
    ) -> None:
        spec = contract_spec("mlp", dense_optimizer=DenseOptimizerSpec("sgd", 1.0, 0.5))
        backend = self._built(backend_factory, spec)
        params = backend.parameters()
        grads = {n: np.full(p.shape, 10.0, np.float32) for n, p in params.items()}

        backend.apply_dense_gradients(grads)

        moved = backend.parameters()
        delta = np.sqrt(sum(float(np.sum((moved[n] - params[n]) ** 2)) for n in params))
        assert delta == pytest.approx(0.5, rel=1e-4)

    # ------------------------------------------------------------ determinism and state

    def test_the_same_seed_gives_the_same_parameters_and_results(
        self, backend_factory: Factory
    ) -> None:
        spec = contract_spec("dien")
        inputs = random_inputs(spec, batch=8, seed=4)

        first = self._built(backend_factory, spec)
        second = self._built(backend_factory, spec)

        for name, value in first.parameters().items():
            np.testing.assert_array_equal(value, second.parameters()[name])
        a = first.compute_gradients(inputs, labels_for(8))
        b = second.compute_gradients(inputs, labels_for(8))
        assert a.loss == b.loss
        np.testing.assert_array_equal(a.predictions, b.predictions)

    def test_a_different_seed_gives_different_parameters(
        self, backend_factory: Factory
    ) -> None:
        first = self._built(backend_factory, contract_spec("mlp", seed=1))
        second = self._built(backend_factory, contract_spec("mlp", seed=2))

        kernel = "mlp.0.kernel"
        assert not np.array_equal(
            first.parameters()[kernel], second.parameters()[kernel]
        )

    @pytest.mark.parametrize("optimizer", ["adagrad", "adam"])
    def test_a_state_round_trip_gives_identical_predictions_and_updates(
        self, backend_factory: Factory, optimizer: str
    ) -> None:
        spec = contract_spec("din", dense_optimizer=DenseOptimizerSpec(optimizer, 0.05))
        trained = self._built(backend_factory, spec)
        inputs = random_inputs(spec, batch=8, seed=6)
        for _ in range(2):
            trained.apply_dense_gradients(
                trained.compute_gradients(inputs, labels_for(8)).dense_grads
            )

        restored = self._built(backend_factory, spec)
        restored.load_state(trained.state())

        np.testing.assert_array_equal(restored.predict(inputs), trained.predict(inputs))
        grads = trained.compute_gradients(inputs, labels_for(8)).dense_grads
        trained.apply_dense_gradients(grads)
        restored.apply_dense_gradients(grads)
        for name, value in trained.parameters().items():
            np.testing.assert_array_equal(restored.parameters()[name], value)

    def test_load_parameters_round_trips_and_checks_shapes(
        self, backend_factory: Factory
    ) -> None:
        spec = contract_spec("deepfm")
        backend = self._built(backend_factory, spec)
        rng = np.random.default_rng(3)
        new = {
            n: rng.normal(size=p.shape).astype(np.float32)
            for n, p in backend.parameters().items()
        }

        backend.load_parameters(new)

        for name, value in backend.parameters().items():
            np.testing.assert_array_equal(value, new[name])
        wrong = dict(new, **{"out.bias": np.zeros((2,), np.float32)})
        with pytest.raises(ComputeError, match="'out.bias'"):
            backend.load_parameters(wrong)
        missing = {k: v for k, v in new.items() if k != "out.bias"}
        with pytest.raises(ComputeError, match="out.bias"):
            backend.load_parameters(missing)

    def test_parameters_are_copies(self, backend_factory: Factory) -> None:
        backend = self._built(backend_factory, contract_spec("mlp"))
        params = backend.parameters()

        params["out.bias"][:] = 42.0

        assert backend.parameters()["out.bias"][0] != 42.0

    # ------------------------------------------------------------ cross-backend

    @pytest.mark.parametrize("kind", KINDS)
    def test_the_same_weights_give_the_same_predictions_as_the_reference(
        self,
        backend_factory: Factory,
        reference_factory: Factory | None,
        kind: str,
    ) -> None:
        if reference_factory is None:
            pytest.skip("no reference backend given")
        spec = contract_spec(kind)
        ours = self._built(backend_factory, spec)
        reference = self._built(reference_factory, spec)
        rng = np.random.default_rng(8)
        weights = {
            n: (p + rng.normal(scale=0.1, size=p.shape)).astype(np.float32)
            for n, p in reference.parameters().items()
        }
        inputs = random_inputs(spec, batch=32, seed=9)

        ours.load_parameters(weights)
        reference.load_parameters(weights)

        np.testing.assert_allclose(
            ours.predict(inputs), reference.predict(inputs), atol=1e-5
        )
        a = ours.compute_gradients(inputs, labels_for(32))
        b = reference.compute_gradients(inputs, labels_for(32))
        assert a.loss == pytest.approx(b.loss, abs=1e-5)
        for name, grad in b.dense_grads.items():
            np.testing.assert_allclose(a.dense_grads[name], grad, atol=1e-5)
        for name, grad in b.slot_grads.items():
            np.testing.assert_allclose(a.slot_grads[name], grad, atol=1e-5)

    def test_a_state_from_the_reference_loads_and_predicts_the_same(
        self, backend_factory: Factory, reference_factory: Factory | None
    ) -> None:
        if reference_factory is None:
            pytest.skip("no reference backend given")
        spec = contract_spec("dien", dense_optimizer=DenseOptimizerSpec("adam", 0.05))
        reference = self._built(reference_factory, spec)
        inputs = random_inputs(spec, batch=8, seed=2)
        reference.apply_dense_gradients(
            reference.compute_gradients(inputs, labels_for(8)).dense_grads
        )

        ours = self._built(backend_factory, spec)
        ours.load_state(reference.state())

        np.testing.assert_allclose(
            ours.predict(inputs), reference.predict(inputs), atol=1e-5
        )

    # ------------------------------------------------------------ learning

    def test_a_planted_task_is_learned(self, backend_factory: Factory) -> None:
        vocab, batch, steps = 40, 64, 300
        spec = ModelSpec(
            name="planted",
            tables=(TableConfig("t", 4, has_bias=True),),
            slots=tuple(SlotSpec(f"s{i}", "t") for i in range(3)),
            dense_features=1,
            tower=TowerSpec("deepfm", (16,)),
            dense_optimizer=DenseOptimizerSpec("adagrad", 0.05),
            seed=0,
        )
        rng = np.random.default_rng(42)
        weights = rng.normal(scale=1.2, size=(3, vocab))
        tables = ToyTables(spec, vocab * 3, seed=1)
        backend = self._built(backend_factory, spec)

        def draw(
            n: int,
        ) -> tuple[
            dict[str, RaggedFids], Float32Array, Float32Array, npt.NDArray[np.float64]
        ]:
            ids = rng.integers(0, vocab, size=(3, n))
            dense = rng.normal(size=(n, 1)).astype(np.float32)
            logit = weights[np.arange(3)[:, None], ids].sum(axis=0) + 0.8 * dense[:, 0]
            labels = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
            splits = np.arange(n + 1, dtype=np.int64)
            fids = {
                f"s{i}": RaggedFids((ids[i] + i * vocab).astype(np.int64), splits)
                for i in range(3)
            }
            return fids, dense, labels, logit

        for _ in range(steps):
            fids, dense, labels, _ = draw(batch)
            result = backend.compute_gradients(tables.inputs(fids, dense), labels)
            backend.apply_dense_gradients(result.dense_grads)
            tables.apply(result.slot_grads, lr=0.2)

        fids, dense, labels, logit = draw(4000)
        learned = auc(labels, backend.predict(tables.inputs(fids, dense)))
        bayes = auc(labels, logit.astype(np.float32))
        assert learned > bayes - 0.04, f"auc={learned:.4f} bayes={bayes:.4f}"
