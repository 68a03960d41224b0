"""Which source notifications are merges a pipeline takes (domain/merges.py)."""

from __future__ import annotations

import pytest

from domain.events import Commit
from domain.merges import NO_COMMIT, Merge, NotAMerge, branch_moved, pipelines_for
from examples.reference import PIPELINES

SPECS = [p.spec() for p in PIPELINES]
NEW, OLD = "7c9cf" + "0" * 35, "3e5dd" + "1" * 35


def moved(ref: str, new: str = NEW, old: str | None = OLD, **kw: object) -> Merge | NotAMerge:
    defaults: dict[str, object] = {"source": "github", "repository": "acme/create-order"}
    defaults.update(kw)
    return branch_moved(
        ref=ref,
        new_commit=new,
        old_commit=old,
        delivery="d-1",
        **defaults,  # type: ignore[arg-type]
    )


def test_a_branch_moved_to_a_commit_is_a_merge_of_that_branch() -> None:
    merge = moved("refs/heads/main", commits=(Commit(commit_id=NEW, author="mary"),))
    assert merge == Merge(
        source="github",
        repository="acme/create-order",
        branch="main",
        commit_id=NEW,
        previous=OLD,
        delivery="d-1",
        commits=(Commit(commit_id=NEW, author="mary"),),
    )
    created = moved("refs/heads/main", old=NO_COMMIT)
    assert isinstance(created, Merge)
    assert created.previous is None


@pytest.mark.parametrize(
    ("ref", "new", "code"),
    [
        ("refs/tags/v1.2.0", NEW, "tag"),
        ("refs/heads/main", NO_COMMIT, "deleted"),
        ("refs/heads/main", "", "deleted"),
        ("refs/notes/reviews", NEW, "not-a-ref"),
        ("main", NEW, "not-a-ref"),
        ("refs/heads/", NEW, "not-a-ref"),
    ],
)
def test_tags_deletions_and_other_refs_are_not_merges_and_say_why(
    ref: str, new: str, code: str
) -> None:
    result = moved(ref, new=new)
    assert isinstance(result, NotAMerge)
    assert result.code == code
    assert ref in result.reason


def test_a_merge_is_taken_by_the_pipelines_of_its_repository_and_branch() -> None:
    github = moved("refs/heads/main", repository="ACME/Create-Order")
    assert isinstance(github, Merge)
    assert pipelines_for(github, SPECS) == ("create-order-application",)
    codecommit = moved("refs/heads/main", source="codecommit", repository="create-order")
    assert isinstance(codecommit, Merge)
    assert pipelines_for(codecommit, SPECS) == ("create-order-application",)
    # CodeCommit names are case-sensitive; a feature branch deploys nothing
    for other in (
        moved("refs/heads/main", source="codecommit", repository="Create-Order"),
        moved("refs/heads/feature/x"),
        moved("refs/heads/main", repository="acme/payments"),
    ):
        assert isinstance(other, Merge)
        found = pipelines_for(other, SPECS)
        assert isinstance(found, NotAMerge)
        assert found.code == "no-pipeline"
        assert other.branch in found.reason
