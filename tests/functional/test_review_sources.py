"""Each pipeline's review record is its own source system's (the spec's `source`)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adapters.review_sources import SourceSystemReviews
from domain.errors import ReviewReadError
from domain.ports import SourceControl
from domain.review import CommitReview
from examples.reference import CreateOrderApp, OrdersTeamPipeline


class Recorded(SourceControl):
    """A reader that says who it is (it stands for CodeCommit's or GitHub's)."""

    def __init__(self, system: str) -> None:
        self.system = system
        self.asked: list[str] = []

    def commits_since(self, repository: str, since: str, head: str) -> tuple[str, ...]:
        self.asked.append(repository)
        return (f"{self.system}-{head}",)

    def reviews(self, repository: str, commit_ids: Sequence[str]) -> dict[str, CommitReview]:
        self.asked.append(repository)
        return {c: CommitReview(commit_id=c, author=self.system, approvers=()) for c in commit_ids}


class OnGitHub(OrdersTeamPipeline):
    service = "order-search"
    repository = "acme/order-search"
    source = "github"


def test_each_repository_is_read_from_its_pipelines_source_system() -> None:
    codecommit, github = Recorded("codecommit"), Recorded("github")
    specs = (CreateOrderApp.spec(), OnGitHub.spec())
    reviews = SourceSystemReviews(lambda: specs, {"codecommit": codecommit, "github": github})
    assert reviews.reviews("acme/create-order", ["c1"])["c1"].author == "codecommit"
    assert reviews.reviews("acme/order-search", ["c2"])["c2"].author == "github"
    assert (codecommit.asked, github.asked) == (["acme/create-order"], ["acme/order-search"])
    # the commits a push brought come from the same system
    assert reviews.commits_since("acme/order-search", "a", "b") == ("github-b",)
    assert reviews.commits_since("acme/create-order", "a", "b") == ("codecommit-b",)


def test_a_repository_without_a_pipeline_or_a_reader_has_no_record() -> None:
    specs = (CreateOrderApp.spec(), OnGitHub.spec())
    reviews = SourceSystemReviews(lambda: specs, {"codecommit": Recorded("codecommit")})
    with pytest.raises(ReviewReadError, match="no pipeline names this repository"):
        reviews.reviews("acme/elsewhere", ["c1"])
    with pytest.raises(ReviewReadError, match="no github review record is configured"):
        reviews.reviews("acme/order-search", ["c1"])
