"""The synthesized reference app within AWS's quotas (infra/quotas.py names each); the team
of ten services is measured by `bench/synth.py --pipelines examples.ten_services:PIPELINES`."""

from __future__ import annotations

from pathlib import Path

from infra.quotas import EVENT_PATTERN_CHARS, measure, tightest


def test_every_template_definition_pattern_policy_and_environment_fits_its_quota(
    cloud_assembly: Path,
) -> None:
    measures = measure(cloud_assembly)
    over = [m for m in measures if m.used > m.limit]
    assert over == []
    worst = tightest(measures)
    assert set(worst) == {
        "template bytes",
        "resources",
        "parameters",
        "outputs",
        "definition bytes",
        "event pattern chars",
        "inline policy chars",
        "trust policy chars",
        "environment bytes",
        "parameter value chars",
        "roles per account",
    }
    # alarm rules match by name ending: far from the quota whatever the number of services
    assert worst["event pattern chars"].used < EVENT_PATTERN_CHARS / 2
