"""The AWS adapters' calls held to the synthesized deploy role: the app synthesized in moto's
account, so the ARNs the adapters touch on moto are the ARNs the policies name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from infra.app import synthesize
from statemachines.local.moto_patches import isolate_dynamodb
from tests.aws import iam
from tests.aws.cfn import World

MOTO_ACCOUNT = "123456789012"

HeldTo = Callable[[], AbstractContextManager[list[dict[str, object]]]]


@pytest.fixture(scope="session")
def moto_account_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out.moto")
    synthesize(outdir, MOTO_ACCOUNT)
    return outdir


@pytest.fixture
def deploy_role_allows(moto_account_assembly: Path) -> HeldTo:
    """`with deploy_role_allows(): ...`: every AWS call inside is one the deploy role that
    makes it on AWS may make (the orders team's role of the region for its targets, the
    platform's for alarms and artifacts), resource by resource; any other fails the test,
    naming it."""

    @contextmanager
    def held() -> Iterator[list[dict[str, object]]]:
        with iam.recording() as calls:
            yield calls
        world = World(account=MOTO_ACCOUNT, region="us-east-1")
        assert iam.deploy_role_denials(moto_account_assembly, calls, world, team="orders") == []
        assert calls, "nothing was called: the block holds no adapter call"

    return held


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's server on a free port of 127.0.0.1: DynamoDB as a URL a person types reaches."""
    isolate_dynamodb()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
