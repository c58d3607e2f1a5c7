from __future__ import annotations

import pytest

from monolith.testing.contracts.compute import ComputeContract, Factory

pytest.importorskip("torch")

from monolith.adapters.compute.torch_compute import TorchCompute  # noqa: E402

pytestmark = pytest.mark.contract


class TestTorchCompute(ComputeContract):
    @pytest.fixture
    def backend_factory(self) -> Factory:
        return TorchCompute
