"""Which source notifications are merges a pipeline takes (domain/merges.py)."""

from __future__ import annotations

import pytest

from domain.events import Commit
from domain.merges import (
    MAX_SUMMARY_LENGTH,
    NO_COMMIT,
    Merge,
    MergeFieldError,
    NotAMerge,
    branch_moved,
    pipelines_for,
    summary,
)
from examples.reference import PIPELINES

SPECS = [p.spec() for p in PIPELINES]
NEW, OLD = "7c9cf" + "0" * 35, "3e5dd" + "1" * 35


def moved(ref: str, new: str = NEW, old: str | None = OLD, **kw: object) -> Merge | NotAMerge:
    defaults: dict[str, object] = {"source": "github", "repository": "acme/create-order"}
    new = str(kw.pop("new", new))
    old = kw.pop("old", old)  # type: ignore[assignment]
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


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"new": "not-a-sha"}, "new commit: 'not-a-sha' is no git object id"),
        ({"old": "3e5dd 1111"}, "old commit"),
        ({"new": "a" * 65}, "is no git object id"),
        ({"repository": "r" * 257}, "repository: 257 characters, more than 256"),
        ({"commits": (Commit(commit_id="xyz", author="mary"),)}, "commit 0: 'xyz'"),
        ({"commits": (Commit(commit_id=NEW, author="m" * 300),)}, "author of 300 characters"),
        ({"commits": (Commit(commit_id=NEW, author="m"),) * 2049}, "more than the 2048"),
    ],
)
def test_fields_beyond_what_a_source_system_sends_are_refused(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(MergeFieldError, match=message):
        moved("refs/heads/main", **fields)


def test_a_commit_message_is_kept_as_its_first_line_within_bounds() -> None:
    long = "Fix rounding " + "x" * 500 + "\n\nA body of many paragraphs"
    merge = moved(
        "refs/heads/main",
        commits=(
            Commit(commit_id=NEW, author="mary", message=long),
            Commit(commit_id=OLD, author="mary", message="Bump the version\n\nbody"),
        ),
    )
    assert isinstance(merge, Merge)
    first, second = merge.commits
    assert len(first.message) == MAX_SUMMARY_LENGTH
    assert first.message.startswith("Fix rounding x")
    assert first.message.endswith("…")
    assert second.message == "Bump the version"
    assert summary("") == ""
