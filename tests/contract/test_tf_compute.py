from __future__ import annotations

import pytest

from monolith.testing.contracts.compute import ComputeContract, Factory

pytest.importorskip("tensorflow")
pytest.importorskip("torch")

from monolith.adapters.compute.tf_compute import TfCompute  # noqa: E402
from monolith.adapters.compute.torch_compute import TorchCompute  # noqa: E402

pytestmark = [pytest.mark.contract, pytest.mark.slow]


class TestTfCompute(ComputeContract):
    @pytest.fixture
    def backend_factory(self) -> Factory:
        return TfCompute

    @pytest.fixture
    def reference_factory(self) -> Factory | None:
        return TorchCompute
