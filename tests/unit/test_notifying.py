"""The local stand-in for the table's stream: each pipeline's new events published in order,
a failure stopping that pipeline's feed where it failed until the next drain."""

from __future__ import annotations

import pytest

from adapters.memory import InMemoryEventStore, MemoryNotifications
from domain.errors import NotifyError, UnknownPipelineError
from domain.notifications import Notification
from service.notifying import Feed, notification_of
from tests.builders import change_received, rollout
from tests.e2e.conftest import SmallApp

PIPELINE = SmallApp.pipeline_id()
SPECS = {PIPELINE: SmallApp.spec()}


class FailingOnce(MemoryNotifications):
    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.order: list[str] = []

    def publish(self, note: Notification) -> None:
        if note.detail["sequence"] == self.fail_at:
            self.fail_at = -1
            raise NotifyError("event bus default: throttled")
        self.order.append(note.id)
        super().publish(note)


def test_new_events_are_published_in_order_and_a_failure_resumes_where_it_stopped() -> None:
    store = InMemoryEventStore()
    store.append([change_received(PIPELINE, 1, "c1")])
    store.append(rollout(PIPELINE, 2, "c1", "gamma", "us-east-1"))
    last = store.last_sequence(PIPELINE)
    publisher = FailingOnce(fail_at=4)
    feed = Feed(store, publisher, SPECS)

    with pytest.raises(NotifyError, match="throttled"):
        feed.drain()
    assert publisher.order == [f"{PIPELINE}/1", f"{PIPELINE}/2", f"{PIPELINE}/3"]
    assert feed.drain() == last - 3  # from the one that failed, nothing skipped
    assert publisher.order == [f"{PIPELINE}/{n}" for n in range(1, last + 1)]
    assert feed.drain() == 0
    store.append([change_received(PIPELINE, last + 1, "c2")])
    assert feed.drain() == 1


def test_a_feed_starts_after_what_the_outbox_already_holds() -> None:
    store = InMemoryEventStore()
    store.append(rollout(PIPELINE, 1, "c1", "gamma", "us-east-1"))
    publisher = MemoryNotifications()
    feed = Feed(store, publisher, SPECS, published_up_to=lambda pipeline: 3)
    feed.drain()
    sequences = sorted(n.detail["sequence"] for n in publisher.published.values())
    assert sequences == list(range(4, store.last_sequence(PIPELINE) + 1))


def test_an_event_of_a_pipeline_without_a_spec_is_refused_not_guessed() -> None:
    with pytest.raises(UnknownPipelineError, match="severity of its event 1 cannot be judged"):
        notification_of(change_received("ghost-app", 1, "c1"), SPECS)
