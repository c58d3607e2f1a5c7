"""The serving use case with a fake loader: which version is served, and when."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monolith.adapters.clock.manual import ManualClock
from monolith.app.cli.main import cli
from monolith.app.serving.service import PredictionService
from monolith.domain.errors import ExportError, ServingError

pytestmark = pytest.mark.unit


class _Manifest:
    checkpoint_wall_time = 0.0


class _Model:
    """Just enough of ServingModel for version selection."""

    manifest = _Manifest()
    table_names: tuple[str, ...] = ()

    def __init__(self, version: int) -> None:
        self.version = version


class _Metrics:
    def __init__(self) -> None:
        self.versions: list[int] = []

    def observe_request(self, method: str, code: str, seconds: float) -> None:
        pass

    def set_model_version(self, version: int) -> None:
        self.versions.append(version)

    def observe_sync_lag(self, seconds: float) -> None:
        pass


def _service(
    root: Path, broken: frozenset[int] = frozenset()
) -> tuple[PredictionService, list[str]]:
    loaded: list[str] = []

    def loader(path: str) -> _Model:
        version = int(Path(path).name)
        if version in broken:
            raise ExportError(f"export manifest {path} is not valid")
        loaded.append(path)
        return _Model(version)

    service = PredictionService(str(root), loader, _Metrics(), ManualClock())  # type: ignore[arg-type]
    return service, loaded


def test_the_newest_integer_version_is_served(tmp_path: Path) -> None:
    for name in ("3", "12", "9", ".tmp-20-x", "notes"):
        (tmp_path / name).mkdir()
    service, loaded = _service(tmp_path)

    assert service.refresh() is True

    assert loaded == [str(tmp_path / "12")]


def test_a_version_that_fails_to_load_is_skipped_for_the_next_older(
    tmp_path: Path,
) -> None:
    for name in ("5", "6"):
        (tmp_path / name).mkdir()
    service, loaded = _service(tmp_path, broken=frozenset({6}))

    service.refresh()
    again = service.refresh()

    assert loaded == [str(tmp_path / "5")]
    assert again is False


def test_listeners_hear_each_new_version_once(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    service, _ = _service(tmp_path)
    heard: list[int] = []
    service.on_model_loaded(heard.append)

    service.refresh()
    service.refresh()
    (tmp_path / "2").mkdir()
    service.refresh()

    assert heard == [1, 2]


def test_predicting_before_any_version_is_unavailable(tmp_path: Path) -> None:
    service, _ = _service(tmp_path / "missing")

    assert service.refresh() is False
    with pytest.raises(ServingError, match="no model loaded yet"):
        service.lookup("t", [1])  # type: ignore[arg-type]


def test_serve_refuses_an_unknown_key_in_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text('[serve]\nexport_dir = "/x"\nbogus = 1\n')

    result = CliRunner().invoke(cli, ["serve", "--config", str(config)])

    assert result.exit_code == 2
    assert "unknown serve setting 'bogus'" in result.output
