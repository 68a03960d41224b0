"""Pipeline specs in Parameter Store: each team's pipeline stack writes its own, the
controller's handlers read them all.

A spec is stored as base64 of zlib-compressed JSON (18.6 KB of JSON for the reference
pipeline is 2.8 KB stored: Parameter Store's standard tier holds 4 KB, the advanced 8 KB).
The handlers re-read the folder at most once a minute (Powertools Parameters' cache), so a
newly deployed pipeline is taken up without restarting the controller; a spec that cannot be
read fails the handler instead of leaving its pipeline unknown.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from domain import codec
from domain.conventions import SPECS_PATH
from domain.errors import ShipwaveError
from domain.spec import PipelineSpec

#: Parameter Store's value limits by tier (SSM API Reference, PutParameter)
STANDARD_TIER_MAX = 4096
ADVANCED_TIER_MAX = 8192

#: how long a handler keeps the specs it read before reading them again
REFRESH_SECONDS = 60


class SpecsUnreadableError(ShipwaveError):
    """The pipeline specs cannot be read or decoded: no pipeline is guessed at."""


def encode_spec(spec: PipelineSpec) -> str:
    text = json.dumps(codec.encode(spec), sort_keys=True, separators=(",", ":"))
    return base64.b64encode(zlib.compress(text.encode(), 9)).decode("ascii")


def decode_spec(name: str, value: str) -> PipelineSpec:
    """The spec stored under parameter `name`; SpecsUnreadableError names what is wrong."""
    try:
        text = zlib.decompress(base64.b64decode(value, validate=True)).decode()
        spec = codec.decode(PipelineSpec, json.loads(text))
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as error:
        raise SpecsUnreadableError(f"parameter {name}: not a shipwave spec ({error})") from None
    if name.rsplit("/", 1)[-1] != spec.pipeline_id:
        raise SpecsUnreadableError(
            f"parameter {name}: holds the spec of pipeline {spec.pipeline_id!r}, "
            "not of the pipeline it is named after"
        )
    return spec


class ParameterSpecs(Mapping[str, PipelineSpec]):
    """Every pipeline under `path`, by id, as of the last read (at most REFRESH_SECONDS old)."""

    def __init__(
        self,
        path: str = SPECS_PATH,
        *,
        provider: SSMProvider | None = None,
        boto_config: Config | None = None,
    ) -> None:
        self.path = path
        self._provider = provider or SSMProvider(boto_config=boto_config)
        self._read: dict[str, str] = {}
        self._specs: dict[str, PipelineSpec] = {}

    def _current(self) -> dict[str, PipelineSpec]:
        try:
            values: dict[str, Any] = self._provider.get_multiple(
                self.path, max_age=REFRESH_SECONDS, recursive=False
            )
        except (GetParameterError, ClientError, BotoCoreError) as error:
            # Powertools wraps every SDK failure in GetParameterError
            raise SpecsUnreadableError(
                f"cannot read the pipeline specs under {self.path}: {error}"
            ) from None
        if values != self._read:
            self._specs = {
                spec.pipeline_id: spec
                for spec in (
                    decode_spec(f"{self.path}/{name}", str(value))
                    for name, value in sorted(values.items())
                )
            }
            self._read = dict(values)
        return self._specs

    def __getitem__(self, pipeline_id: str) -> PipelineSpec:
        return self._current()[pipeline_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    # one read for a whole iteration: Mapping's own views would read again for every key
    def values(self) -> ValuesView[PipelineSpec]:
        return self._current().values()

    def items(self) -> ItemsView[str, PipelineSpec]:
        return self._current().items()
