"""Each synthesized function as Lambda would run it: from the cloud assembly alone.

A function's runtime is built from what its template names and nothing else:
- the code asset (`cdk.out/asset.<hash>`, what Lambda unpacks as /var/task);
- its layers: the public Powertools layer rebuilt for
  the exact version its SSM parameter names, the way Powertools builds it
  (`pip install -t /asset/python "aws-lambda-powertools[all]==<version>"`, then removing
  boto3, botocore, s3transfer, dateutil, urllib3, six, jmespath, tests and bytecode:
  `layer/Pythonv3/Dockerfile` of aws-powertools/powertools-lambda-layer-cdk);
- the SDK the Lambda runtime provides (boto3 at the version pyproject.toml pins);
and runs in a clean Python of the Lambda runtime's version (`python3.13 -I`).
"""

from __future__ import annotations

import functools
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.bundling import (
    BUILD_ROOT,
    LAMBDA_PYTHON,
    os_rename_into,
    pinned_requirements,
    pip_install_for_lambda,
)
from tests.aws.cfn import World

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
POWERTOOLS_PARAMETER = re.compile(
    r"^/aws/service/powertools/python/x86_64/python(?P<python>[0-9.]+)/(?P<version>[0-9.]+)$"
)
#: what Powertools' layer build deletes from `pip install -t` (its Dockerfile, quoted above)
POWERTOOLS_REMOVED = ("boto*", "s3transfer*", "*dateutil*", "urllib3*", "six*", "jmespath*")


class SandboxError(RuntimeError):
    pass


def lambda_python() -> str:
    """The interpreter of the Lambda runtime's Python version; its absence fails the test."""
    return _interpreter(LAMBDA_PYTHON, os.environ.get("SHIPWAVE_LAMBDA_PYTHON", ""))


@functools.cache
def _interpreter(version: str, chosen: str) -> str:
    """Found once per version (each candidate is probed in a subprocess)."""
    candidates = [chosen]
    candidates += sorted(glob.glob(f"/root/.pyenv/versions/{version}*/bin/python3"))
    candidates += [shutil.which(f"python{version}") or ""]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    raise SandboxError(
        f"no Python {version} interpreter (the Lambda runtime's version) was found: "
        "set SHIPWAVE_LAMBDA_PYTHON to one"
    )


def _cached_install(name: str, requirements: tuple[str, ...], subfolder: str = "") -> Path:
    destination = BUILD_ROOT / name
    if destination.is_dir():
        return destination
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=BUILD_ROOT))
    try:
        target = staging / subfolder if subfolder else staging
        pip_install_for_lambda(requirements, target)
        if name.startswith("layer-powertools"):
            for pattern in POWERTOOLS_REMOVED:
                for path in target.glob(pattern):
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
            for path in list(target.rglob("*")):
                if path.is_file() and "tests" in path.relative_to(target).parts[1:-1]:
                    path.unlink()
        for cache in list(staging.rglob("__pycache__")):
            shutil.rmtree(cache, ignore_errors=True)
        os_rename_into(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def powertools_layer(version: str) -> Path:
    """The public Powertools layer for `version`, as /opt (its content is under python/)."""
    return _cached_install(
        f"layer-powertools-{version}", (f"aws-lambda-powertools[all]=={version}",), "python"
    )


def runtime_sdk() -> Path:
    """boto3 and its dependencies, as the Lambda Python runtime provides them."""
    version = pinned_requirements()["boto3"]
    return _cached_install(f"runtime-boto3-{version}", (f"boto3=={version}",))


@dataclass(frozen=True)
class FunctionPackage:
    logical_id: str
    name: str
    handler: str
    role: str  # the logical id of its execution role
    asset: Path
    layers: tuple[Path, ...]  # each as Lambda unpacks it under /opt
    environment: dict[str, Any]  # as the template has it, intrinsics unresolved
    layer_versions: tuple[str, ...]  # what each layer is ("powertools 3.37.0", "asset ...")


def functions(outdir: Path, stack: str = "shipwave-controller") -> dict[str, FunctionPackage]:
    """Every function of `stack` as its template has it, keyed by function name."""
    template = json.loads((outdir / f"{stack}.template.json").read_text())
    resources = template["Resources"]
    parameters = template.get("Parameters", {})
    packages: dict[str, FunctionPackage] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        layers: list[Path] = []
        descriptions: list[str] = []
        for layer in properties.get("Layers", []):
            reference = layer["Ref"]
            if reference in parameters:
                name = parameters[reference]["Default"]
                match = POWERTOOLS_PARAMETER.match(name)
                if match is None or match.group("python") != LAMBDA_PYTHON:
                    raise SandboxError(f"{logical_id}: layer parameter {name} is not known")
                layers.append(powertools_layer(match.group("version")))
                descriptions.append(f"powertools {match.group('version')}")
            else:
                content = resources[reference]["Properties"]["Content"]
                layers.append(_asset(outdir, content["S3Key"]))
                descriptions.append(f"asset {content['S3Key']}")
        role = properties["Role"]["Fn::GetAtt"][0]
        packages[properties["FunctionName"]] = FunctionPackage(
            logical_id=logical_id,
            name=properties["FunctionName"],
            handler=properties["Handler"],
            role=role,
            asset=_asset(outdir, properties["Code"]["S3Key"]),
            layers=tuple(layers),
            environment=properties.get("Environment", {}).get("Variables", {}),
            layer_versions=tuple(descriptions),
        )
    return packages


def _asset(outdir: Path, s3_key: str) -> Path:
    folder = outdir / f"asset.{s3_key.removesuffix('.zip')}"
    if not folder.is_dir():
        raise SandboxError(f"asset {s3_key} is not in the cloud assembly {outdir}")
    return folder


def _opt(package: FunctionPackage, root: Path) -> Path:
    """/opt as Lambda builds it: every layer's top-level entries side by side."""
    opt = root / f"opt-{package.name}"
    if opt.exists():
        return opt
    opt.mkdir(parents=True)
    for layer in package.layers:
        for entry in layer.iterdir():
            link = opt / entry.name
            if link.exists():
                raise SandboxError(f"{package.name}: layers overlap at /opt/{entry.name}")
            link.symlink_to(entry)
    return opt


def invoke(
    package: FunctionPackage,
    event: dict[str, Any],
    *,
    world: World,
    endpoint: str,
    work: Path,
    environment: dict[str, str] | None = None,
    probes: Path | None = None,
) -> dict[str, Any]:
    """Import and invoke the function once, as a cold start, against `endpoint`. `-B`: Lambda's
    /var/task and /opt are read-only, so no bytecode is written and every cold start
    compiles what it imports."""
    opt = _opt(package, work)
    resolved = {key: str(world.resolve(value)) for key, value in package.environment.items()}
    resolved = {
        key: str(opt) + value[len("/opt") :] if value.startswith("/opt/") else value
        for key, value in resolved.items()
    }
    result_file = Path(tempfile.mkstemp(prefix=f"{package.name}-", suffix=".json", dir=work)[1])
    request = {
        "path": [
            str(package.asset),
            *([str(probes)] if probes else []),  # a harness entry point, beside the asset
            str(opt / "python"),
            str(runtime_sdk()),
        ],
        "handler": package.handler,
        "event": event,
        "function_name": package.name,
        "region": world.region,
        "account": world.account,
        "result_file": str(result_file),
    }
    request_file = result_file.with_suffix(".request.json")
    request_file.write_text(json.dumps(request))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(package.asset),
        "LAMBDA_RUNTIME_DIR": str(runtime_sdk()),
        "_HANDLER": package.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{LAMBDA_PYTHON}",
        "AWS_LAMBDA_FUNCTION_NAME": package.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": world.region,
        "AWS_DEFAULT_REGION": world.region,
        "AWS_ACCESS_KEY_ID": world.credentials[0],
        "AWS_SECRET_ACCESS_KEY": world.credentials[1],
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": endpoint,
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
        "Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        **resolved,
        **(environment or {}),
    }
    completed = subprocess.run(
        [lambda_python(), "-I", "-B", str(BOOTSTRAP), str(request_file)],
        cwd=package.asset,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if completed.returncode != 0 or not result_file.read_text():
        raise SandboxError(
            f"{package.name}: the runtime exited {completed.returncode}:\n"
            f"{completed.stderr[-3000:]}"
        )
    outcome: dict[str, Any] = json.loads(result_file.read_text())
    outcome["stdout"] = completed.stdout
    return outcome


def size(folder: Path) -> int:
    """Bytes of every file under `folder` (what the zip holds before compression)."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
