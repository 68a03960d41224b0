"""The reference pipelines, modelled on the seed article.

The orders team's base class fixes five production waves over all 24 catalogue regions
(76 AZs): one low-traffic region AZ by AZ, one high-traffic region AZ by AZ, then 3 regions,
then 12, then every remaining region. Its two microservices subclass it and override only what
differs; each service also gets a configuration pipeline with the same safety.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from domain.spec import (
    ALL_REMAINING,
    BakeTimes,
    Build,
    Canary,
    Datapoints,
    EcsServiceTarget,
    IntegrationTests,
    LambdaAliasTarget,
    Notify,
    Pipeline,
    TimeWindow,
    Wave,
)


class OrdersTeamPipeline(Pipeline):
    """The orders team's safety settings, shared by every pipeline of the team."""

    team = "orders"
    alpha = "us-east-1"
    beta = "us-east-1"
    # annotated as the base class has them, so a team's subclass may name other regions
    gamma: ClassVar[tuple[str, ...]] = ("us-east-1", "eu-west-1")
    waves: ClassVar[tuple[Wave, ...]] = (
        Wave(regions=("af-south-1",)),  # 1: one low-traffic region, one AZ at a time
        Wave(regions=("us-east-1",)),  # 2: one high-traffic region, one AZ at a time
        Wave(regions=("eu-west-1", "ap-northeast-1", "us-west-2")),  # 3: three regions
        Wave(  # 4: up to twelve
            regions=(
                "us-east-2",
                "eu-central-1",
                "eu-west-2",
                "ap-southeast-1",
                "ap-southeast-2",
                "ap-northeast-2",
                "ap-south-1",
                "ca-central-1",
                "sa-east-1",
                "eu-north-1",
                "eu-west-3",
                "us-west-1",
            )
        ),
        Wave(regions=ALL_REMAINING),  # 5: the rest
    )
    bake = BakeTimes()  # 1 h after one-box, 12 h after wave 1, 3 h after later waves
    window = TimeWindow(days=(0, 1, 2, 3, 4), start_hour=9, end_hour=17, latest_start_hour=16)
    blockers = ("company-large-scale-event", "company-deployment-freeze", "orders-aggregate")
    #: who may pause, resume or abort the team's pipelines (the operator endpoint's signers)
    operators = (
        "arn:aws:sts::*:assumed-role/orders-oncall/*",
        "arn:aws:iam::*:role/orders-oncall",
    )
    #: who may approve a commit of the team (never their own)
    reviewers = ("ana", "bo", "chen", "dara", "reviewer")
    #: who may approve an emergency (two distinct, neither the change's author)
    emergency_approvers = ("ana", "bo", "chen")


class CreateOrderApp(OrdersTeamPipeline):
    service = "create-order"
    repository = "acme/create-order"  # its code: examples/create_order_service
    build = Build(
        build=(
            "mkdir -p dist",
            "cp -R src/. VERSION dist/",
            "python -m compileall -q --invalidation-mode checked-hash dist",
        ),
        unit_tests=("PYTHONPATH=src python -m unittest discover -s unit_tests -q",),
        output="dist",
        version="$(cat VERSION)",
        entry="orders.handler",
    )
    integration_tests = IntegrationTests(
        command='python integration_tests/run.py "$SHIPWAVE_TEST_REPORT"',
        stages=("alpha", "beta", "gamma"),
        endpoints={
            "alpha": "https://orders.alpha.acme.example",
            "beta": "https://orders.beta.acme.example",
            "gamma": "https://orders.gamma.acme.example",
        },
    )
    #: a customer's order every five minutes in every production region
    canary = Canary(
        url="https://orders.{region}.acme.example/orders",
        method="POST",
        body=json.dumps(
            {"customer": "canary", "items": [{"sku": "C", "quantity": 1, "unit_price_cents": 0}]}
        ),
        expect_status=201,
    )
    target = LambdaAliasTarget(function_name="create-order", alias="live")
    datapoints = Datapoints(
        namespace="AWS/ApiGateway",
        metric="Count",
        dimensions=(("ApiName", "orders"), ("Resource", "/orders"), ("Method", "POST")),
        minimum=100,
    )


class CreateOrderConfig(CreateOrderApp):
    """Feature flags and configuration: the same waves, shorter one-box bake."""

    kind = "configuration"
    repository = "acme/create-order-config"
    build = Build()  # configuration needs no build: the repository's files are the artifact
    integration_tests = IntegrationTests()  # the service's own tests cover its configuration
    canary = Canary()  # the service's canary (CreateOrderApp's) watches its configuration too
    bake = BakeTimes(after_one_box=1800)


class OrderHistoryApp(OrdersTeamPipeline):
    service = "order-history"
    repository = "acme/order-history"
    target = EcsServiceTarget(
        cluster="orders", service="order-history", one_box_service="order-history-one-box"
    )
    window = TimeWindow(no_fridays=True, latest_start_hour=15)  # a riskier, stateful service
    # the team's topic gets every warning and critical notification of this pipeline
    notify = Notify(severity="warning", emails=("orders-oncall@example.com",))


PIPELINES: tuple[type[Pipeline], ...] = (
    CreateOrderApp,
    CreateOrderConfig,
    OrderHistoryApp,
)

#: each repository's code, as the local runtime first commits it (others start empty)
SERVICE_CODE: dict[str, Path] = {
    CreateOrderApp.repository: Path(__file__).parent / "create_order_service",
}
