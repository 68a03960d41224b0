"""Every generated definition passes a real ASL validator (asl-validator from npm)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from examples.reference import PIPELINES
from statemachines.generator import to_json

VALIDATOR = Path(__file__).parents[2] / "node_modules" / ".bin" / "asl-validator"


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: p.pipeline_id())
def test_generated_definition_is_valid_asl(pipeline: type, tmp_path: Path) -> None:
    path = tmp_path / "definition.asl.json"
    path.write_text(to_json(pipeline.spec()))

    result = subprocess.run(
        [str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout


def test_the_validator_rejects_a_broken_definition(tmp_path: Path) -> None:
    path = tmp_path / "broken.asl.json"
    path.write_text('{"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "End": true}}}')

    result = subprocess.run(
        [str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, check=False
    )

    assert result.returncode != 0
