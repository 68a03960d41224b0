"""A team of ten services in all 24 regions, each with its application and configuration
pipeline (20 pipelines): the size the CDK app must fit AWS's quotas for
(`bench/synth.py --pipelines examples.ten_services:PIPELINES`)."""

from __future__ import annotations

from domain.spec import BakeTimes, EcsServiceTarget, LambdaAliasTarget, Pipeline
from examples.reference import OrdersTeamPipeline

SERVICES = (
    "create-order",
    "order-history",
    "cancel-order",
    "order-search",
    "order-pricing",
    "order-tax",
    "order-shipping",
    "order-invoice",
    "order-returns",
    "order-notify",
)


def _service(index: int, name: str) -> tuple[type[Pipeline], type[Pipeline]]:
    target: object = (
        LambdaAliasTarget(function_name=name, alias="live")
        if index % 2 == 0
        else EcsServiceTarget(cluster="orders", service=name, one_box_service=f"{name}-one-box")
    )
    app = type(
        f"App{index}",
        (OrdersTeamPipeline,),
        {"service": name, "repository": f"acme/{name}", "target": target},
    )
    config = type(
        f"Config{index}",
        (app,),
        {
            "kind": "configuration",
            "repository": f"acme/{name}-config",
            "bake": BakeTimes(after_one_box=1800),
        },
    )
    return app, config


PIPELINES: tuple[type[Pipeline], ...] = tuple(
    pipeline for index, name in enumerate(SERVICES) for pipeline in _service(index, name)
)
