"""`shipwave plan` against the local runtime: the schedule computed from the spec is the one
the generated state machine keeps, windows and public holidays included."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from adapters.sqlite import SQLiteEventStore
from domain.events import (
    ArtifactBuilt,
    BatchDeployed,
    ChangeReceived,
    Event,
    OneBoxDeployed,
    StageSucceeded,
)
from domain.plan import plan
from domain.spec import TimeWindow, Wave
from shipwave.cli import app
from statemachines.local.runtime import LocalRuntime
from tests.e2e.conftest import SmallApp

#: the day before Thanksgiving (Thursday 26 November 2026, a US public holiday)
WEDNESDAY_8AM = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


class Windowed(SmallApp):
    """Office hours on weekdays, in three time zones; US holidays hold us-west-2."""

    waves = (Wave(regions=("af-south-1",)), Wave(regions=("ap-northeast-1", "us-west-2")))
    window = TimeWindow(days=(0, 1, 2, 3, 4), start_hour=9, end_hour=17, latest_start_hour=15)


PLANNED = (Windowed,)


def test_the_plan_is_the_runtimes_schedule_to_the_minute_windows_and_holidays_included(
    tmp_path: Path,
) -> None:
    spec = Windowed.spec()
    pipeline = spec.pipeline_id
    with LocalRuntime(
        [spec], event_log=SQLiteEventStore(tmp_path / "e.db"), start=WEDNESDAY_8AM
    ) as runtime:
        runtime.adopt(pipeline, "v1.0.0")
        change = runtime.merge(pipeline, "v1.1.0")
        runtime.run(max_days=15)
        log: list[Event] = list(runtime.store.read(pipeline))
    received = next(e.at for e in log if isinstance(e, ChangeReceived) and e.change_id == change)
    built = next(e.at for e in log if isinstance(e, ArtifactBuilt) and e.change_id == change)

    # the build's time is the builder's, not the spec's: the plan takes it as given
    planned = plan(spec, received, build_seconds=(built - received).total_seconds())

    passed = {e.stage: e.at for e in log if isinstance(e, StageSucceeded) and e.change_id == change}
    assert {s.stage: s.ends for s in planned.stages} == passed
    first_deploy: dict[tuple[str, str], datetime] = {}
    for e in log:
        if isinstance(e, OneBoxDeployed | BatchDeployed) and e.change_id == change:
            first_deploy.setdefault((e.stage, e.scope.split("/")[0]), e.at)
    assert {
        (r.stage, r.region): r.starts for s in planned.stages for r in s.regions
    } == first_deploy
    # us-west-2 waited out Thanksgiving, as the plan says
    (us,) = [r for s in planned.stages for r in s.regions if r.region == "us-west-2"]
    assert any("public holiday in us-west-2: Thanksgiving" in w.reason for w in us.waits)
    assert us.starts == datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # Friday 09:00 in Oregon


def test_plan_prints_each_stage_and_region_and_its_waits_and_refuses_bad_input() -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "plan",
            Windowed.pipeline_id(),
            "--merged-at",
            "2026-11-25T08:00Z",
            "--pipelines",
            "tests.e2e.test_plan:PLANNED",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert [s["stage"] for s in printed["stages"]] == [s.name for s in Windowed.spec().stages]
    assert printed["everywhere"] > "2026-11-27"
    table = runner.invoke(
        app,
        ["plan", Windowed.pipeline_id(), "--merged-at", "2026-11-25T08:00Z", "--pipelines",
         "tests.e2e.test_plan:PLANNED"],
    )  # fmt: skip
    assert "Thanksgiving" in table.output
    assert "everywhere" in table.output
    for arguments, message in [
        (["plan", "nope", "--merged-at", "2026-11-25T08:00Z"], "pipeline 'nope' is not in"),
        (["plan", Windowed.pipeline_id(), "--merged-at", "soon"], "time 'soon'"),
        (
            [
                "plan",
                Windowed.pipeline_id(),
                "--merged-at",
                "2026-11-25T08:00Z",
                "--build-minutes",
                "-1",
            ],
            "--build-minutes -1",
        ),
    ]:
        bad = runner.invoke(app, [*arguments, "--pipelines", "tests.e2e.test_plan:PLANNED"])
        assert bad.exit_code != 0
        assert message in str(bad.exception), (arguments, bad.exception)
