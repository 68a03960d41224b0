"""The payments team's pipelines (what a team keeps in its own repository)."""

from __future__ import annotations

from typing import ClassVar

from domain.spec import (
    BakeTimes,
    Build,
    Notify,
    Pipeline,
    TimeWindow,
    Wave,
)


class PaymentsTeam(Pipeline):
    """The team's safety settings: every pipeline of the team inherits them."""

    team = "payments"
    alpha = "eu-west-1"
    beta = "eu-west-1"
    gamma: ClassVar[tuple[str, ...]] = ("eu-west-1",)
    waves: ClassVar[tuple[Wave, ...]] = (
        Wave(regions=("eu-west-2",)),  # one small region first
        Wave(regions=("eu-central-1", "us-east-1")),
    )
    bake = BakeTimes(after_first_wave=6 * 3600, after_later_waves=2 * 3600)
    window = TimeWindow(days=(0, 1, 2, 3), start_hour=8, end_hour=17, latest_start_hour=15)
    blockers = ("company-large-scale-event", "payments-aggregate")
    reviewers = ("amira", "ben", "chioma")
    emergency_approvers = ("amira", "chioma")


class RefundsApp(PaymentsTeam):
    service = "refunds"
    repository = "acme/refunds"
    build = Build(
        build=("mkdir -p dist", "cp -R src/. VERSION dist/"),
        unit_tests=("PYTHONPATH=src python -m unittest discover -s unit_tests -q",),
        output="dist",
        version="$(cat VERSION)",
        entry="refunds.handler",
    )
    notify = Notify(severity="warning", emails=("payments-oncall@example.com",))


PIPELINES = (RefundsApp,)
