"""Every recorded transition published, in order per pipeline, once.

On AWS the table's stream hands each new event item to the notify function
(`handlers/notify.py`); locally the runtime reads each pipeline's new events after the last
one published (`Feed`). Both publish the same notification (`domain.notifications`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from domain.errors import UnknownPipelineError
from domain.events import Event
from domain.notifications import Notification, notify
from domain.ports import EventStore, NotificationPublisher
from domain.spec import PipelineSpec


def notification_of(event: Event, specs: Mapping[str, PipelineSpec]) -> Notification:
    """The event's notification, its severity judged by its pipeline's production stages; a
    pipeline without a spec is refused (its severity cannot be told: nothing is guessed)."""
    spec = specs.get(event.pipeline_id)
    if spec is None:
        raise UnknownPipelineError(
            f"pipeline {event.pipeline_id!r} has no spec: the severity of its event "
            f"{event.sequence} cannot be judged"
        )
    production = [stage.name for stage in spec.stages if stage.production]
    return notify(event, production=production)


class Feed:
    """The local stand-in for the table's stream: each pipeline's events after the last one
    published, published in order; a failure stops that pipeline's feed where it failed (the
    next drain starts there again), as the stream's checkpoint does."""

    def __init__(
        self,
        store: EventStore,
        publisher: NotificationPublisher,
        specs: Mapping[str, PipelineSpec],
        *,
        published_up_to: Callable[[str], int] | None = None,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.specs = specs
        self._up_to: dict[str, int] = {}
        self._start = published_up_to or (lambda pipeline: 0)
        self.published = 0

    def drain(self) -> int:
        """Publish what is new; returns how many were published."""
        count = 0
        for pipeline in self.store.pipelines():
            after = self._up_to.get(pipeline)
            if after is None:
                after = self._start(pipeline)
            if self.store.last_sequence(pipeline) <= after:
                self._up_to[pipeline] = after
                continue
            for event in self.store.read(pipeline, after):
                self.publisher.publish(notification_of(event, self.specs))
                self._up_to[pipeline] = event.sequence
                count += 1
        self.published += count
        return count
