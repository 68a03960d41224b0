"""The AWS adapters' calls held to the synthesized deploy role: the app synthesized in moto's
account, so the ARNs the adapters touch on moto are the ARNs the policies name."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import aws_cdk as cdk
import pytest

from infra.app import build
from infra.config import load_specs, read_config
from tests.aws import iam
from tests.aws.cfn import World

ROOT = Path(__file__).parents[2]
MOTO_ACCOUNT = "123456789012"

HeldTo = Callable[[], AbstractContextManager[list[dict[str, object]]]]


@pytest.fixture(scope="session")
def moto_account_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    outdir = tmp_path_factory.mktemp("cdk.out.moto")
    app = cdk.App(context=context, outdir=str(outdir))
    config = read_config(context, account=MOTO_ACCOUNT)
    build(app, config, load_specs(config.pipelines_module))
    app.synth()
    return outdir


@pytest.fixture
def deploy_role_allows(moto_account_assembly: Path) -> HeldTo:
    """`with deploy_role_allows(): ...`: every AWS call inside is one the region's deploy
    role may make, resource by resource; any other fails the test, naming it."""

    @contextmanager
    def held() -> Iterator[list[dict[str, object]]]:
        with iam.recording() as calls:
            yield calls
        world = World(account=MOTO_ACCOUNT, region="us-east-1")
        assert iam.deploy_role_denials(moto_account_assembly, calls, world) == []
        assert calls, "nothing was called: the block holds no adapter call"

    return held
