"""Steps whose behaviour arrives with the deployment engine: they fail loudly, never silently."""

from __future__ import annotations

from typing import Any

from domain.errors import ShipwaveError


class StepNotAvailableError(ShipwaveError):
    """This step's behaviour is not built yet; the execution stops here with this message."""


def not_available(step: str, event: dict[str, Any]) -> dict[str, Any]:
    raise StepNotAvailableError(
        f"{step}: not available in this version of shipwave (action {event.get('action')!r})"
    )
