"""Published source notifications read at the edge: AWS's CodeCommit sample event
(tests/fixtures/aws/README.md) and octokit/webhooks' GitHub push payloads
(tests/fixtures/github/README.md)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from domain.events import Commit
from domain.merges import Merge, NotAMerge, pipelines_for
from examples.reference import PIPELINES
from handlers.sources import codecommit_merge, github_merge
from tests.aws.conftest import GITHUB_FIXTURES, fixture, github_payload

SPECS = [p.spec() for p in PIPELINES]


def test_codecommits_published_reference_update_is_a_merge_of_main() -> None:
    event = fixture("codecommit-reference-updated.json")
    merge = codecommit_merge(event)
    assert merge == Merge(
        source="codecommit",
        repository="create-order",
        branch="main",
        commit_id=event["detail"]["commitId"],
        previous=event["detail"]["oldCommitId"],
        delivery=event["id"],
    )
    assert pipelines_for(merge, SPECS) == ("create-order-application",)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"event": "referenceDeleted"}, "deleted"),
        ({"referenceType": "tag", "referenceFullName": "refs/tags/v1"}, "tag"),
        ({"event": "commentOnCommitCreated"}, "not-a-ref"),
    ],
)
def test_codecommit_deletions_tags_and_other_events_say_why_they_start_nothing(
    changes: dict[str, str], code: str
) -> None:
    event = fixture("codecommit-reference-updated.json")
    event["detail"].update(changes)
    result = codecommit_merge(event)
    assert isinstance(result, NotAMerge)
    assert result.code == code


def test_a_codecommit_event_without_its_detail_is_refused_by_the_model() -> None:
    event = fixture("codecommit-reference-updated.json")
    del event["detail"]["repositoryName"]
    with pytest.raises(ValidationError, match="repositoryName"):
        codecommit_merge(event)


def test_githubs_published_push_creating_a_branch_is_a_merge_with_its_commits() -> None:
    body = github_payload(
        "push-with-new-branch.json", full_name="acme/create-order", ref="refs/heads/main"
    )
    merge = github_merge("72d3162e-cc78-11e3-81ab-4c9367dc0958", body)
    payload = json.loads(body)
    assert merge == Merge(
        source="github",
        repository="acme/create-order",
        branch="main",
        commit_id=payload["after"],
        previous=None,  # before is all zeros: the branch was created
        delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958",
        commits=(
            Commit(
                commit_id=payload["commits"][0]["id"],
                author="Codertocat",
                message=payload["commits"][0]["message"],
            ),
        ),
    )
    assert pipelines_for(merge, SPECS) == ("create-order-application",)
    # as published (Codertocat/Hello-World, master): a merge no pipeline takes
    published = github_merge("d", (GITHUB_FIXTURES / "push-with-new-branch.json").read_bytes())
    assert isinstance(published, Merge)
    found = pipelines_for(published, SPECS)
    assert isinstance(found, NotAMerge)
    assert found.code == "no-pipeline"


def test_githubs_published_tag_deletion_starts_nothing_and_a_ping_is_no_push() -> None:
    result = github_merge("d", (GITHUB_FIXTURES / "push-tag-deleted.json").read_bytes())
    assert isinstance(result, NotAMerge)
    assert result.code == "tag"
    with pytest.raises(ValidationError):
        github_merge("d", (GITHUB_FIXTURES / "ping.json").read_bytes())
