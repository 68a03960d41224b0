"""The Lambda code asset, built without Docker: the handler tree plus the third-party packages
neither the Lambda runtime nor the Powertools layer provides, installed for the Lambda
platform (`pip install --target --platform --only-binary :all: --python-version`).

The build is a pure function of its inputs (the sources, the pins, the platform), so it is
cached under `.shipwave/build/asset-<hash>` and a synth of unchanged code installs nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_ROOT = ROOT / "functions"
BUILD_ROOT = ROOT / ".shipwave" / "build"

#: the Lambda runtime every handler runs on, and the platform its wheels are built for
LAMBDA_PYTHON = "3.13"
LAMBDA_PLATFORM = "manylinux2014_x86_64"

#: what the handlers import beyond the runtime (boto3) and the Powertools layer (installed by
#: Powertools as `aws-lambda-powertools[all]`: pydantic, aws-xray-sdk, ...)
BUNDLED = ("holidays",)

#: the handler tree's packages; the CLI (`shipwave`) runs on people's machines, not in Lambda
ASSET_PACKAGES = ("domain", "adapters", "service", "handlers")
_SKIPPED = ("__pycache__", "*.pyc", "*.egg-info")


class BundlingError(RuntimeError):
    """The asset could not be built; the message says which command failed and why."""


def pinned_requirements() -> dict[str, str]:
    """Every runtime dependency of pyproject.toml, by name, as its exact pin."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins: dict[str, str] = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^;\s]+)", requirement.strip())
        if match is None:
            raise BundlingError(f"{requirement!r} in pyproject.toml is not pinned with ==")
        pins[match.group(1).lower()] = match.group(3)
    return pins


def powertools_version() -> str:
    """The Powertools library version the handlers were written and tested against."""
    return pinned_requirements()["aws-lambda-powertools"]


def bundled_requirements() -> tuple[str, ...]:
    pins = pinned_requirements()
    missing = [name for name in BUNDLED if name not in pins]
    if missing:
        raise BundlingError(f"bundled packages {missing} are not pinned in pyproject.toml")
    return tuple(f"{name}=={pins[name]}" for name in BUNDLED)


def _sources() -> list[Path]:
    files = []
    for package in ASSET_PACKAGES:
        for path in sorted((FUNCTIONS_ROOT / package).rglob("*")):
            if path.is_file() and not any(path.match(p) or p in path.parts for p in _SKIPPED):
                files.append(path)
    return files


def asset_key(requirements: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for value in (LAMBDA_PYTHON, LAMBDA_PLATFORM, *requirements):
        digest.update(value.encode() + b"\0")
    for path in _sources():
        digest.update(str(path.relative_to(FUNCTIONS_ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def pip_install_for_lambda(requirements: tuple[str, ...], target: Path) -> None:
    """Install wheels built for the Lambda platform into `target` (never an sdist: a build
    here would compile for this machine, not for Lambda)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--platform",
        LAMBDA_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON,
        "--only-binary",
        ":all:",
        *requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BundlingError(
            f"`{' '.join(command)}` failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )


def os_rename_into(staging: Path, destination: Path) -> None:
    """Publish a finished build by one rename; a concurrent build that finished first wins."""
    try:
        os.rename(staging, destination)
    except OSError:
        if not destination.is_dir():
            raise


def build_asset(build_root: Path = BUILD_ROOT) -> Path:
    """The folder Lambda unpacks as /var/task: the handler packages and their bundled
    dependencies. Built once per distinct input; concurrent builds are safe (the finished
    folder appears by one rename)."""
    requirements = bundled_requirements()
    destination = build_root / f"asset-{asset_key(requirements)}"
    if destination.is_dir():
        return destination
    build_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".asset-", dir=build_root))
    try:
        for package in ASSET_PACKAGES:
            shutil.copytree(
                FUNCTIONS_ROOT / package,
                staging / package,
                ignore=shutil.ignore_patterns(*_SKIPPED),
            )
        pip_install_for_lambda(requirements, staging)
        for cache in staging.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        os_rename_into(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination
