"""The estimator over in-memory storage with numpy fakes."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from monolith.adapters.clock.manual import ManualClock
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.app.training.estimator import Estimator, TrainSettings
from monolith.domain.errors import NoCheckpointError, NonFiniteLossError
from tests.training_fakes import FakeBackend, FakeStore, planted_batches, tiny_spec

pytestmark = pytest.mark.unit

MODEL_DIR = "memory:///m"


def _estimator(fs, nan_at_call=None, **settings) -> Estimator:
    return Estimator(
        tiny_spec(),
        task="tests.Tiny",
        fs=fs,
        model_dir=MODEL_DIR,
        backend_factory=lambda: FakeBackend(nan_at_call=nan_at_call),
        store_factory=lambda n: FakeStore(n, fs=fs),
        clock=ManualClock(),
        settings=TrainSettings(progress_bar=False, **settings),
    )


def _source(batches):
    return lambda index, count: iter(batches[index::count])


def test_a_new_estimator_resumes_from_the_newest_checkpoint(caplog):
    fs = InMemoryFileSystem()
    batches = planted_batches(60, 32)
    _estimator(fs, save_checkpoints_steps=10).train(_source(batches), max_steps=25)

    with caplog.at_level(logging.INFO, logger="monolith"):
        outcome = _estimator(fs).train(_source(batches), max_steps=40)

    assert "restored from checkpoint-25" in caplog.text
    assert (outcome.start_step, outcome.last_step) == (25, 40)


def test_training_to_a_step_already_reached_does_nothing():
    fs = InMemoryFileSystem()
    batches = planted_batches(20, 32)
    _estimator(fs).train(_source(batches), max_steps=10)

    outcome = _estimator(fs).train(_source(batches), max_steps=10)

    assert outcome.examples == 0 and outcome.last_step == 10


def test_evaluate_and_predict_in_a_fresh_estimator_use_the_saved_parameters():
    fs = InMemoryFileSystem()
    trained = _estimator(fs)
    trained.train(_source(planted_batches(150, 64)), max_steps=150)
    probe = planted_batches(4, 128, seed=7)

    fresh = _estimator(fs)
    scores = fresh.predict(probe)
    result = fresh.evaluate(probe)

    assert scores.shape == (512,)
    np.testing.assert_allclose(scores, trained.predict(probe), rtol=1e-6)
    assert result.examples == 512 and result.auc is not None and result.auc > 0.8
    assert result.line().startswith("auc=")
    assert fresh.global_step == 150


def test_evaluate_without_a_checkpoint_names_the_directory():
    with pytest.raises(NoCheckpointError, match="memory:///m"):
        _estimator(InMemoryFileSystem()).evaluate(planted_batches(1, 8))


def test_a_nan_loss_stops_training_naming_the_step_and_saves_nothing_at_the_end():
    fs = InMemoryFileSystem()
    estimator = _estimator(fs, nan_at_call=5)

    with pytest.raises(NonFiniteLossError, match="at step 5"):
        estimator.train(_source(planted_batches(20, 8)), max_steps=20)

    assert estimator.checkpoints.steps() == []


def test_training_writes_tensorboard_events_into_the_model_dir():
    fs = InMemoryFileSystem()
    estimator = _estimator(fs, tensorboard=True, summary_every_steps=5)

    estimator.train(_source(planted_batches(10, 8)), max_steps=10)

    assert fs.glob(f"{MODEL_DIR}/events/events.out.tfevents.*")


@pytest.mark.parametrize("before", [1, 2], ids=["from-1-worker", "from-2-workers"])
def test_ps_mode_restores_the_saved_dense_parameters_onto_the_store(before):
    from monolith.adapters.parameters.local import LocalParameterStore

    fs = InMemoryFileSystem()

    def estimator(workers: int) -> Estimator:
        return Estimator(
            tiny_spec(),
            task="tests.Tiny",
            fs=fs,
            model_dir=MODEL_DIR,
            backend_factory=FakeBackend,
            store_factory=lambda n: LocalParameterStore(n, fs=fs),
            clock=ManualClock(),
            settings=TrainSettings(num_ps=2, num_workers=workers, progress_bar=False),
        )

    estimator(before).train(_source(planted_batches(40, 16)), max_steps=20)
    saved = estimator(before).checkpoints.load_dense(20)

    resumed = estimator(2)
    resumed.predict(planted_batches(1, 8))
    on_store = resumed._model().store.pull_dense()

    for name in ("head/w", "head/b"):
        np.testing.assert_allclose(on_store[name], saved[name])
