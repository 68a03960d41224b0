"""The shipwave CDK app: `npx cdk synth` (offline) or `npx cdk deploy`.

Pipelines come from the module named by the context key `shipwave:pipelines`
("examples.reference:PIPELINES" by default); each is validated when the app is built.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from domain.spec import PipelineSpec
from infra.config import AppConfig, load_specs, read_config
from infra.stacks.controller import ControllerStack, PipelineStack
from infra.stacks.region import RegionStack


def build(app: cdk.App, config: AppConfig, specs: tuple[PipelineSpec, ...]) -> None:
    """Add the controller stack and one stack per target region to `app`."""
    controller = ControllerStack(
        app,
        "shipwave-controller",
        specs=specs,
        env=cdk.Environment(account=config.account, region=config.home_region),
        description="shipwave controller: event log, handlers, pipeline state machines",
    )
    for spec in specs:
        pipeline = PipelineStack(
            app,
            f"shipwave-pipeline-{spec.pipeline_id}",
            spec=spec,
            env=cdk.Environment(account=config.account, region=config.home_region),
            description=f"shipwave pipeline {spec.pipeline_id}: its state machine",
        )
        pipeline.add_dependency(controller)  # its handlers first
    regions = sorted({region for spec in specs for region in spec.regions})
    for region in regions:
        RegionStack(
            app,
            f"shipwave-region-{region}",
            specs=tuple(spec for spec in specs if region in spec.regions),
            home_region=config.home_region,
            env=cdk.Environment(account=config.account, region=region),
            description=f"shipwave in {region}: alarms, deploy role, alarm forwarding",
        )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def synthesize(outdir: Path, account: str) -> None:
    """`cdk synth` of the app with cdk.json's context into `outdir`, for `account` (tests and
    benchmarks: no CDK CLI needed)."""
    context = json.loads((Path(__file__).parents[1] / "cdk.json").read_text())["context"]
    app = cdk.App(context=context, outdir=str(outdir))
    config = read_config(context, account=account)
    build(app, config, load_specs(config.pipelines_module))
    app.synth()


def main() -> None:
    app = cdk.App()
    context = {
        key: app.node.try_get_context(key) for key in ("shipwave:pipelines", "shipwave:homeRegion")
    }
    config = read_config(
        {k: v for k, v in context.items() if v is not None},
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
    )
    build(app, config, load_specs(config.pipelines_module))
    app.synth()


if __name__ == "__main__":
    main()
