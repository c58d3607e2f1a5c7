"""The gloo all-reduce with two real processes: means, sums, broadcast, timeout."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.integration.dist_support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from monolith.adapters.collective.process_group import GlooAllReduce

    rank, port = int(sys.argv[1]), int(sys.argv[2])
    group = GlooAllReduce(rank, 2, init_method=f"tcp://127.0.0.1:{port}", timeout=30)
    mean = group.mean({
        "w": np.full((2, 3), rank + 1, dtype=np.float32),
        "b": np.array([10.0 * rank], dtype=np.float32),
    })
    total = group.sum(np.array([rank, 1.0]))
    shared = group.broadcast({"x": np.array([rank + 5.0], dtype=np.float32)})
    group.barrier()
    group.close()
    print(json.dumps({
        "w": mean["w"].tolist(), "b": mean["b"].tolist(),
        "sum": total.tolist(), "x": shared["x"].tolist(),
    }))
    """
)


def run_ranks(script: str, ranks: list[int], timeout: float) -> list[str]:
    port = free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(rank), str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in ranks
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        outputs.append(out if proc.returncode == 0 else f"FAILED {err[-2000:]}")
    return outputs


def test_two_ranks_get_the_mean_sum_and_rank_zeros_broadcast() -> None:
    outputs = run_ranks(SCRIPT, [0, 1], timeout=90)

    results = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    for result in results:
        assert result["w"] == [[1.5] * 3] * 2
        assert result["b"] == [5.0]
        assert result["sum"] == [1.0, 2.0]
        assert result["x"] == [5.0]


def test_a_missing_peer_makes_the_collective_fail_with_an_error() -> None:
    script = textwrap.dedent(
        """
        import sys
        from monolith.adapters.collective.process_group import GlooAllReduce
        from monolith.domain.errors import CollectiveError
        try:
            GlooAllReduce(0, 2, init_method=f"tcp://127.0.0.1:{sys.argv[2]}",
                          timeout=2)
        except CollectiveError as exc:
            print("collective error:", exc)
        """
    )

    (output,) = run_ranks(script, [0], timeout=60)

    assert "collective error: cannot join the gloo group as rank 0 of 2" in output
