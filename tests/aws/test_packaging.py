"""Every function imports and runs from what the template names, in the Lambda runtime's
Python: the code asset, its layers and the runtime's SDK, nothing from this checkout."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from infra.bundling import ASSET_PACKAGES, FUNCTIONS_ROOT, ROOT, powertools_version
from tests.aws import sandbox
from tests.aws.cfn import World
from tests.aws.conftest import template

VENV = ROOT / ".venv"


def origin(outcome: dict[str, object], module: str) -> str:
    files = [f for f in outcome["files"] if f"/{module}/__init__.py" in f]  # type: ignore[union-attr]
    assert len(files) == 1, f"{module}: loaded from {files}"
    return str(files[0])


def test_every_handler_imports_from_its_asset_and_layers_alone_and_refuses_a_malformed_event(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    functions = sandbox.functions(cloud_assembly)
    assert len(functions) == 11
    for name, package in functions.items():
        outcome = sandbox.invoke(package, {}, world=world, endpoint=moto_endpoint, work=tmp_path)
        assert "import_error" not in outcome, f"{name}: {outcome.get('traceback')}"
        assert outcome["python"][:2] == [3, 13]
        # a malformed event: a validation error naming what is missing, and no AWS call
        assert outcome["error"]["type"] == "ValidationError", f"{name}: {outcome['error']}"
        assert "Field required" in outcome["error"]["message"]
        assert outcome["calls"] == []
        assert origin(outcome, "holidays").startswith(str(package.asset))
        assert origin(outcome, "pydantic").startswith(str(tmp_path / f"opt-{name}" / "python"))
        assert origin(outcome, "aws_lambda_powertools").startswith(
            str(tmp_path / f"opt-{name}" / "python")
        )
        assert origin(outcome, "boto3").startswith(str(sandbox.runtime_sdk()))
        assert origin(outcome, "handlers").startswith(str(package.asset))
        for loaded in outcome["files"]:
            assert not str(loaded).startswith((str(VENV), str(FUNCTIONS_ROOT))), loaded


def test_the_powertools_layer_is_the_release_the_handlers_are_pinned_to(
    cloud_assembly: Path,
) -> None:
    body = template(cloud_assembly, "shipwave-controller")
    names = {p["Default"] for p in body["Parameters"].values() if "powertools" in p["Default"]}
    assert names == {f"/aws/service/powertools/python/x86_64/python3.13/{powertools_version()}"}
    layer = sandbox.powertools_layer(powertools_version())
    version_file = layer / "python" / "aws_lambda_powertools" / "shared" / "version.py"
    assert f'VERSION = "{powertools_version()}"' in version_file.read_text()
    # what the Powertools build removes is not there: the runtime provides the SDK
    assert not list((layer / "python").glob("boto*"))
    assert not list((layer / "python").glob("jmespath*"))


def test_the_harness_fails_a_function_whose_asset_lacks_a_dependency(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    """The bare handler tree (the asset before bundling) fails at cold start: the harness
    sees what AWS would."""
    bare = tmp_path / "bare-asset"
    for package in ASSET_PACKAGES:
        shutil.copytree(FUNCTIONS_ROOT / package, bare / package)
    package = replace(sandbox.functions(cloud_assembly)["shipwave-alarm"], asset=bare)
    outcome = sandbox.invoke(package, {}, world=world, endpoint=moto_endpoint, work=tmp_path)
    assert outcome["import_error"]["type"] == "ModuleNotFoundError"
    assert "holidays" in outcome["import_error"]["message"]


def test_a_missing_lambda_python_is_an_error_not_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "LAMBDA_PYTHON", "2.0")
    with pytest.raises(sandbox.SandboxError, match=r"no Python 2\.0 interpreter"):
        sandbox.lambda_python()
