"""The shipwave CDK app: `npx cdk synth` (offline) or `npx cdk deploy`.

Pipelines come from the module named by the context key `shipwave:pipelines`
("examples.reference:PIPELINES" by default); each is validated when the app is built.

Who deploys what (README, "On AWS"):
- the platform owner: `shipwave-controller` (home region) and `shipwave-region-<region>` for
  every catalogue region; none of them knows a pipeline;
- a team: `shipwave-pipeline-<id>` for each pipeline, which brings with it the team's stack
  `shipwave-team-<team>-<region>` of each region the pipeline deploys to.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from domain.catalogue import DEFAULT_CATALOGUE, Catalogue
from domain.spec import PipelineSpec
from infra.config import AppConfig, load_specs, read_config
from infra.stacks.controller import ControllerStack
from infra.stacks.pipeline import PipelineStack
from infra.stacks.region import RegionStack
from infra.stacks.team import TeamRegionStack, team_stack_name


def build(
    app: cdk.App,
    config: AppConfig,
    specs: tuple[PipelineSpec, ...],
    catalogue: Catalogue = DEFAULT_CATALOGUE,
) -> None:
    """Add the platform's stacks and the teams' stacks of `specs` to `app`."""
    home = cdk.Environment(account=config.account, region=config.home_region)
    ControllerStack(
        app,
        "shipwave-controller",
        company_alarms=catalogue.company_alarms,
        env=home,
        description="shipwave controller: event log, handlers, triggers (platform)",
    )
    for region in sorted(r.name for r in catalogue.regions):
        RegionStack(
            app,
            f"shipwave-region-{region}",
            home_region=config.home_region,
            company_alarms=catalogue.company_alarms,
            env=cdk.Environment(account=config.account, region=region),
            description=f"shipwave in {region}: artifacts, deploy role, alarm forwarding "
            "(platform)",
        )
    team_stacks: dict[tuple[str, str], TeamRegionStack] = {}
    for team, region in sorted({(s.team, r) for s in specs for r in s.regions}):
        team_stacks[(team, region)] = TeamRegionStack(
            app,
            team_stack_name(team, region),
            team=team,
            specs=tuple(s for s in specs if s.team == team and region in s.regions),
            home_region=config.home_region,
            env=cdk.Environment(account=config.account, region=region),
            description=f"shipwave team {team} in {region}: its alarms and deploy role",
        )
    for spec in specs:
        pipeline = PipelineStack(
            app,
            f"shipwave-pipeline-{spec.pipeline_id}",
            spec=spec,
            env=home,
            description=f"shipwave pipeline {spec.pipeline_id}: its state machine and spec",
        )
        # deployed after (and with) the team's alarms and deploy role in each of its regions
        for region in spec.regions:
            pipeline.add_stack_dependency(team_stacks[(spec.team, region)])
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def synthesize(outdir: Path, account: str, pipelines: str | None = None) -> None:
    """`cdk synth` of the app with cdk.json's context into `outdir`, for `account` (tests and
    benchmarks: no CDK CLI needed)."""
    context = json.loads((Path(__file__).parents[1] / "cdk.json").read_text())["context"]
    if pipelines is not None:
        context["shipwave:pipelines"] = pipelines
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
