"""The layer rules are enforced, and the ports' public surface is pinned."""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, Protocol

import attrs
import pytest

import monolith.ports

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
if not LINT_IMPORTS.exists():
    LINT_IMPORTS = Path(shutil.which("lint-imports") or "lint-imports")


def contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    found: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return found


def domain_contract_name() -> str:
    return next(
        c["name"]
        for c in contracts()
        if c["type"] == "forbidden"
        and "monolith.domain" in c["source_modules"]
        and "monolith.adapters" in c["forbidden_modules"]
    )


def copy_project(tmp_path: Path) -> Path:
    shutil.copytree(
        REPO / "monolith",
        tmp_path / "monolith",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def run_lint(project: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(project), env.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_untouched_copy_of_the_package_keeps_every_contract(tmp_path: Path) -> None:
    project = copy_project(tmp_path)

    result = run_lint(project)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{domain_contract_name()} KEPT" in result.stdout


def test_a_domain_module_importing_an_adapter_breaks_the_lint(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    module = project / "monolith" / "domain" / "paths.py"
    module.write_text(module.read_text() + "\nimport monolith.adapters.clock.system\n")

    result = run_lint(project)

    assert result.returncode != 0
    assert f"{domain_contract_name()} BROKEN" in result.stdout
    assert "monolith.domain.paths -> monolith.adapters.clock.system" in result.stdout


def test_a_domain_module_importing_torch_breaks_the_lint(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    module = project / "monolith" / "domain" / "paths.py"
    module.write_text(module.read_text() + "\nimport torch\n")

    result = run_lint(project)

    assert result.returncode != 0
    assert f"{domain_contract_name()} BROKEN" in result.stdout


def defined_in_ports(obj: object) -> bool:
    return inspect.isclass(obj) and obj.__module__.startswith("monolith.ports.")


def public_port_names() -> set[str]:
    """Protocols and attrs values defined in the port modules."""
    names = set()
    for module_name in sorted(
        p.stem for p in Path(monolith.ports.__file__).parent.glob("*.py")
    ):
        if module_name.startswith("_"):
            continue
        module = __import__(f"monolith.ports.{module_name}", fromlist=["_"])
        for name, obj in vars(module).items():
            if name.startswith("_") or not defined_in_ports(obj):
                continue
            if obj.__module__ != module.__name__:
                continue
            is_protocol = Protocol in getattr(obj, "__mro__", ()) or getattr(
                obj, "_is_protocol", False
            )
            if is_protocol or attrs.has(obj):
                names.add(name)
    return names


def test_ports_export_exactly_their_protocols_and_values() -> None:
    assert sorted(monolith.ports.__all__) == sorted(public_port_names())


def test_every_exported_port_name_is_importable() -> None:
    for name in monolith.ports.__all__:
        assert defined_in_ports(getattr(monolith.ports, name)), name


def test_the_ports_export_the_protocols_named_in_the_architecture() -> None:
    protocols = {
        name
        for name in monolith.ports.__all__
        if getattr(getattr(monolith.ports, name), "_is_protocol", False)
    }

    assert {"Clock", "ComputeBackend", "FileSystem", "ParameterStore"} <= protocols
    assert "ServiceDiscovery" in protocols
