"""A first draft with mistakes `shipwave validate` finds."""

from __future__ import annotations

from domain.spec import BakeTimes, Pipeline, TimeWindow


class Draft(Pipeline):
    team = "payments"
    service = "refunds"
    repository = "acme/refunds"
    reviewers = ()  # nobody may approve a commit
    one_box_percent = 40.0  # more than a one-box
    bake = BakeTimes(after_one_box=60)  # a minute
    window = TimeWindow(days=(5, 6), start_hour=9, end_hour=9)  # never open


PIPELINES = (Draft,)
