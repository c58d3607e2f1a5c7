"""The parameter-store contract: every ParameterStore adapter passes it.

Subclass :class:`ParameterStoreContract` and provide two fixtures::

    class TestMyStore(ParameterStoreContract):
        @pytest.fixture
        def make_store(self, ...) -> Callable[[int], ParameterStore]:
            ...  # a factory: shards -> a new, empty store (closed after the test)

        @pytest.fixture
        def snapshot_dir(self, tmp_path) -> str:
            return str(tmp_path / "snapshot")  # where snapshots go

The suite's ``store`` fixture is ``make_store(2)``. Stores made by one test's
factory must share the file system ``snapshot_dir`` lives on, so a snapshot of
one restores onto another (with another shard count too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from monolith.domain.embedding.config import (
    InitializerConfig,
    OptimizerConfig,
    TableConfig,
)
from monolith.domain.errors import ParameterStoreError, UsageError
from monolith.domain.model_spec import DenseOptimizerSpec
from monolith.ports.parameters import ParameterStore

StoreFactory = Callable[[int], ParameterStore]

ZEROS = InitializerConfig("zeros")


def sgd_table(
    name: str = "t", dim: int = 2, lr: float = 1.0, **kw: object
) -> TableConfig:
    """A zero-initialised SGD table, as in the original's table tests."""
    return TableConfig(
        name,
        dim=dim,
        initializer=ZEROS,
        optimizer=OptimizerConfig("sgd", learning_rate=lr),
        **kw,  # type: ignore[arg-type]
    )


def fids(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def assign(
    store: ParameterStore, table: str, ids: np.ndarray, rows: np.ndarray
) -> None:
    """Set rows of a zero-initialised SGD(lr=1) table through gradients."""
    current = store.lookup(table, ids)
    store.apply_gradients(table, ids, (current - rows).astype(np.float32), 1, 0.0)


class ParameterStoreContract:
    """Behaviour every parameter-store adapter must show."""

    @pytest.fixture
    def make_store(self) -> StoreFactory:
        raise NotImplementedError("subclasses provide the make_store fixture")

    @pytest.fixture
    def snapshot_dir(self) -> str:
        raise NotImplementedError("subclasses provide the snapshot_dir fixture")

    @pytest.fixture
    def store(self, make_store: StoreFactory) -> ParameterStore:
        return make_store(2)

    # ------------------------------------------------------------ tables
    def test_lookup_of_unknown_fids_reads_zeros_and_inserts_nothing(
        self, store: ParameterStore
    ) -> None:
        store.create_tables([sgd_table(dim=3)])

        rows = store.lookup("t", fids(1, -2, 3))

        assert rows.shape == (3, 3) and rows.dtype == np.float32
        assert not rows.any()
        assert store.tables()[0].rows == 0

    def test_create_tables_is_idempotent_and_refuses_a_conflicting_config(
        self, store: ParameterStore
    ) -> None:
        store.create_tables([sgd_table("a"), sgd_table("b", dim=4)])

        store.create_tables([sgd_table("a")])

        assert [(t.name, t.dim) for t in store.tables()] == [("a", 2), ("b", 4)]
        with pytest.raises(ParameterStoreError, match="'a'"):
            store.create_tables([sgd_table("a", dim=3)])

    def test_an_unknown_table_is_a_parameter_store_error(
        self, store: ParameterStore
    ) -> None:
        with pytest.raises(ParameterStoreError, match="nope"):
            store.lookup("nope", fids(1))

    def test_gradients_of_the_wrong_shape_are_a_usage_error(
        self, store: ParameterStore
    ) -> None:
        store.create_tables([sgd_table()])

        with pytest.raises(UsageError, match="shape"):
            store.apply_gradients("t", fids(1, 2), np.zeros((2, 3), np.float32), 1, 0)

    def test_assigned_rows_read_back_in_request_order_with_duplicates(
        self, store: ParameterStore
    ) -> None:
        # DistributedHashTableTest: 2 PS, dim 2, SGD lr 1, zeros init.
        store.create_tables([sgd_table()])
        assign(store, "t", fids(1, 2, 3), np.array([[1, 1], [2, 2], [3, 3]]))

        assert store.lookup("t", fids(1, 2, 3)).tolist() == [[1, 1], [2, 2], [3, 3]]
        assert store.lookup("t", fids(1, 1, 3)).tolist() == [[1, 1], [1, 1], [3, 3]]
        assign(store, "t", fids(2, 3, 4), np.array([[1, 1], [2, 2], [3, 3]]))
        got = store.lookup("t", fids(1, 2, 3, 4))
        assert got.tolist() == [[1, 1], [1, 1], [2, 2], [3, 3]]
        assert store.tables()[0].rows == 4

    def test_gradients_of_duplicate_fids_are_summed(
        self, store: ParameterStore
    ) -> None:
        # DistributedHashTableTest: loss 2*v on ids [0,3,0,1] -> [-4,-2,-4,-2].
        store.create_tables([sgd_table(dim=1)])

        store.apply_gradients(
            "t", fids(0, 3, 0, 1), np.full((4, 1), 2.0, np.float32), 1, 0
        )

        got = store.lookup("t", fids(0, 3, 0, 1))[:, 0]
        assert got.tolist() == [-4.0, -2.0, -4.0, -2.0]

    def test_gradients_land_on_the_fids_they_are_pushed_for(
        self, store: ParameterStore
    ) -> None:
        # DistributedHashTableTest: look up [1, 0], back-propagate to [1, 1]
        # with loss -2*v -> rows [[4], [0]].
        store.create_tables([sgd_table(dim=1)])
        store.lookup("t", fids(1, 0))

        store.apply_gradients("t", fids(1, 1), np.full((2, 1), -2.0, np.float32), 1, 0)

        assert store.lookup("t", fids(1, 0))[:, 0].tolist() == [4.0, 0.0]

    def test_negative_and_huge_fids_each_get_their_own_row(
        self, store: ParameterStore
    ) -> None:
        store.create_tables([sgd_table(dim=1)])
        ids = fids(-(2**63), -1, 0, 2**63 - 1, 3 << 48, (3 << 48) + 1)

        store.apply_gradients("t", ids, -np.arange(6, dtype=np.float32)[:, None], 1, 0)

        assert store.lookup("t", ids)[:, 0].tolist() == [0, 1, 2, 3, 4, 5]
        assert store.tables()[0].rows == 6

    def test_occurrence_threshold_holds_back_new_fids(
        self, store: ParameterStore
    ) -> None:
        store.create_tables([sgd_table(dim=1, lr=0.1, occurrence_threshold=3)])
        seen: list[list[float]] = []

        for step in range(4):
            store.apply_gradients(
                "t", fids(0, 0, 1), -np.ones((3, 1), np.float32), step, 0
            )
            seen.append(store.lookup("t", fids(0, 1))[:, 0].tolist())

        np.testing.assert_allclose(
            np.array(seen),
            np.array([[0, 0], [0.1, 0], [0.3, 0], [0.5, 0.1]]),
            atol=1e-6,
        )

    def test_concurrent_updates_from_threads_all_land(
        self, store: ParameterStore
    ) -> None:
        store.create_tables([sgd_table(dim=1)])
        ids = np.arange(-50, 50, dtype=np.int64)

        def push() -> None:
            for step in range(20):
                store.apply_gradients("t", ids, -np.ones((100, 1), np.float32), step, 0)

        threads = [threading.Thread(target=push) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert (store.lookup("t", ids)[:, 0] == 80.0).all()

    def test_touched_since_returns_rows_updated_after_a_version(
        self, store: ParameterStore
    ) -> None:
        store.create_tables([sgd_table(dim=1)])
        start = store.touched_since("t", 0)
        store.apply_gradients("t", fids(1, 2), -np.ones((2, 1), np.float32), 1, 0)
        first = store.touched_since("t", start.version)
        store.apply_gradients("t", fids(2, 7), -np.ones((2, 1), np.float32), 2, 0)

        second = store.touched_since("t", first.version)

        assert start.fids.size == 0
        assert sorted(first.fids.tolist()) == [1, 2]
        order = np.argsort(second.fids)
        assert second.fids[order].tolist() == [2, 7]
        assert second.rows[order, 0].tolist() == [2.0, 1.0]
        assert store.touched_since("t", second.version).fids.size == 0

    # ------------------------------------------------------------ many tables
    def test_lookup_many_reads_what_each_lookup_reads(
        self, store: ParameterStore
    ) -> None:
        store.create_tables([sgd_table("a"), sgd_table("b", dim=3)])
        assign(store, "a", fids(1, 2, 7), np.arange(6, dtype=np.float32).reshape(3, 2))
        assign(store, "b", fids(2, -5), np.ones((2, 3), np.float32))
        wanted = {"a": fids(7, 1, 4, 2, 7), "b": fids(-5, 9, 2)}

        found = store.lookup_many(wanted)

        assert sorted(found) == ["a", "b"]
        for table, ids in wanted.items():
            assert found[table].dtype == np.float32
            assert np.array_equal(found[table], store.lookup(table, ids))
        assert store.lookup_many({}) == {}

    def test_apply_gradients_many_updates_each_table_as_apply_gradients_does(
        self, make_store: StoreFactory
    ) -> None:
        configs = [sgd_table("a", lr=0.5), sgd_table("b", dim=3, lr=0.1)]
        batched, single = make_store(2), make_store(2)
        updates = {
            "a": (fids(1, 2, 1, 8), np.full((4, 2), 2.0, np.float32)),
            "b": (fids(3, -4), np.arange(6, dtype=np.float32).reshape(2, 3)),
        }
        for store in (batched, single):
            store.create_tables(configs)

        batched.apply_gradients_many(updates, 1, 0.0)
        for table, (ids, grads) in updates.items():
            single.apply_gradients(table, ids, grads, 1, 0.0)

        for table in updates:
            ids = fids(1, 2, 3, -4, 8)
            assert np.array_equal(batched.lookup(table, ids), single.lookup(table, ids))
        assert batched.tables() == single.tables()

    def test_apply_gradients_many_changes_nothing_when_one_table_is_wrong(
        self, store: ParameterStore
    ) -> None:
        store.create_tables([sgd_table("a"), sgd_table("b")])
        good = (fids(1, 2), np.ones((2, 2), np.float32))

        with pytest.raises(ParameterStoreError, match="nope"):
            store.apply_gradients_many({"a": good, "nope": good}, 1, 0.0)
        with pytest.raises(UsageError, match="'b'"):
            store.apply_gradients_many(
                {"a": good, "b": (fids(1, 2), np.ones((2, 5), np.float32))}, 1, 0.0
            )

        assert [t.rows for t in store.tables()] == [0, 0]

    # ------------------------------------------------------------ dense
    def test_dense_parameters_step_on_the_store(self, store: ParameterStore) -> None:
        params = {"w": np.ones((2, 2), np.float32), "b": np.zeros(2, np.float32)}
        sgd = DenseOptimizerSpec(kind="sgd", learning_rate=0.5, clip_norm=0.0)
        store.init_dense(params, sgd)
        store.init_dense({"w": np.zeros((2, 2), np.float32), "b": params["b"]}, sgd)

        store.push_dense_gradients({"w": np.ones((2, 2), np.float32)})

        pulled = store.pull_dense()
        assert pulled["w"].tolist() == [[0.5, 0.5], [0.5, 0.5]]
        assert pulled["b"].tolist() == [0.0, 0.0]
        with pytest.raises(ParameterStoreError):
            store.init_dense({"other": params["b"]}, sgd)

    def test_pulling_dense_parameters_before_init_is_an_error(
        self, store: ParameterStore
    ) -> None:
        with pytest.raises(ParameterStoreError, match="init_dense"):
            store.pull_dense()

    # ------------------------------------------------------------ snapshots
    def _filled(self, store: ParameterStore) -> np.ndarray:
        store.create_tables(
            [
                TableConfig(
                    "emb", dim=4, initializer=InitializerConfig("uniform", 0.1, 1)
                ),
                sgd_table("gone", dim=1, expire_days=0.0),
            ]
        )
        ids = np.arange(-300, 700, 7, dtype=np.int64)
        grads = np.random.default_rng(0).normal(size=(ids.size, 4)).astype(np.float32)
        store.apply_gradients("emb", ids, grads, 1, 1000.0)
        store.apply_gradients("emb", ids[::2], grads[::2], 2, 2000.0)
        store.apply_gradients("gone", ids, np.ones((ids.size, 1), np.float32), 1, 0)
        store.init_dense({"w": np.ones(3, np.float32)}, DenseOptimizerSpec("adagrad"))
        store.push_dense_gradients({"w": np.ones(3, np.float32)})
        return ids

    @pytest.mark.parametrize("shards", [2, 3, 1])
    def test_a_snapshot_restores_onto_any_shard_count(
        self, make_store: StoreFactory, snapshot_dir: str, shards: int
    ) -> None:
        source = make_store(2)
        ids = self._filled(source)
        files = source.snapshot(snapshot_dir)
        target = make_store(shards)
        target.create_tables(
            [
                TableConfig(
                    "emb", dim=4, initializer=InitializerConfig("uniform", 0.1, 1)
                ),
                sgd_table("gone", dim=1, expire_days=0.0),
            ]
        )
        target.init_dense({"w": np.zeros(3, np.float32)}, DenseOptimizerSpec("adagrad"))

        target.restore(snapshot_dir)

        assert any(f.endswith(".npy") for f in files)
        assert np.array_equal(target.lookup("emb", ids), source.lookup("emb", ids))
        assert not target.lookup("gone", ids).any()
        assert np.array_equal(target.pull_dense()["w"], source.pull_dense()["w"])
        grads = np.ones((ids.size, 4), np.float32)
        source.apply_gradients("emb", ids, grads, 3, 3000.0)
        target.apply_gradients("emb", ids, grads, 3, 3000.0)
        # Optimizer state came along: the next step matches too.
        np.testing.assert_allclose(
            target.lookup("emb", ids), source.lookup("emb", ids), rtol=1e-6
        )

    def test_restore_replaces_rows_written_after_the_snapshot(
        self, store: ParameterStore, snapshot_dir: str
    ) -> None:
        store.create_tables([sgd_table(dim=1)])
        store.apply_gradients("t", fids(1), -np.ones((1, 1), np.float32), 1, 0)
        store.snapshot(snapshot_dir)
        store.apply_gradients("t", fids(1, 2), -np.ones((2, 1), np.float32), 2, 0)

        store.restore(snapshot_dir)

        assert store.lookup("t", fids(1, 2))[:, 0].tolist() == [1.0, 0.0]
        assert store.tables()[0].rows == 1
