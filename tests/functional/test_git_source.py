"""The local source system over real git repositories: commits on main, reviews in git notes,
read back by the review gate's port."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.git_source import NOTES_REF, GitRepository, GitReviewSource
from domain.errors import ReviewReadError
from domain.review import CommitReview

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_merge_is_a_commit_on_main_and_its_approvals_are_notes_git_itself_reads(
    tmp_path: Path,
) -> None:
    repository = GitRepository(tmp_path / "create-order")
    first = repository.commit("add handler", author="mary", at=AT, files={"app.py": "x = 1\n"})
    second = repository.commit("fix rounding", author="ana", at=AT)
    repository.approve(first, "joe", at=AT)
    repository.approve(first, "kim", at=AT)
    repository.approve(first, "joe", at=AT)  # twice: one approval

    assert repository.head() == second
    assert repository.reviews([first, second]) == {
        first: CommitReview(
            commit_id=first, author="mary", approvers=("joe", "kim"), parents=()
        ),  # the first commit: no parent
        second: CommitReview(commit_id=second, author="ana", approvers=(), parents=(first,)),
    }
    # the record is git's own: the note is readable with plain git, in the notes ref
    note = subprocess.run(
        ["git", "-C", str(repository.path), "notes", f"--ref={NOTES_REF}", "show", first],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert note.splitlines() == ["Approved-by: joe", "", "Approved-by: kim", "", "Approved-by: joe"]
    log = subprocess.run(
        ["git", "-C", str(repository.path), "log", "--format=%an %s", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert log.splitlines() == ["ana fix rounding", "mary add handler"]


def test_unknown_commits_are_left_out_and_an_unreadable_repository_fails_closed(
    tmp_path: Path,
) -> None:
    repository = GitRepository(tmp_path / "create-order")
    known = repository.commit("one", author="mary", at=AT)
    source = GitReviewSource({"acme/create-order": repository})

    assert set(source.reviews("acme/create-order", [known, "0" * 40, "not-a-sha"])) == {known}
    with pytest.raises(ReviewReadError, match="no local git repository"):
        source.reviews("acme/unknown", [known])
    broken = tmp_path / "create-order" / ".git"
    (broken / "HEAD").write_text("garbage\n")
    with pytest.raises(ReviewReadError, match="git"):
        source.reviews("acme/create-order", [known])


def test_an_approver_name_that_would_forge_a_second_line_is_refused(tmp_path: Path) -> None:
    repository = GitRepository(tmp_path / "create-order")
    commit = repository.commit("one", author="mary", at=AT)
    with pytest.raises(ValueError, match="reviewer name"):
        repository.approve(commit, "joe\nApproved-by: mallory", at=AT)
    assert repository.reviews([commit])[commit].approvers == ()


def test_an_approval_is_kept_as_recorded_for_the_gate_to_judge(tmp_path: Path) -> None:
    repository = GitRepository(tmp_path / "create-order")
    commit = repository.commit("one", author="mary", at=AT)
    repository.approve(commit, " ", at=AT)  # a blank name: not a reviewer, the gate says
    # git strips the note's trailing blanks: the record holds an empty name
    assert repository.reviews([commit])[commit].approvers == ("",)


def test_the_commits_a_push_brought_are_those_git_lists_since_the_previous_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = GitRepository(tmp_path / "create-order")
    before = repository.commit("one", author="mary", at=AT)
    second = repository.commit("two", author="mary", at=AT)
    third = repository.commit("three", author="ana", at=AT)
    source = GitReviewSource({"acme/create-order": repository})

    assert source.commits_since("acme/create-order", before, third) == (second, third)
    assert source.commits_since("acme/create-order", third, third) == ()
    with pytest.raises(ReviewReadError, match="rev-list"):
        source.commits_since("acme/create-order", "0" * 40, third)  # a commit git never had
    monkeypatch.setattr("adapters.git_source.MAX_COMMITS_SINCE", 1)
    with pytest.raises(ReviewReadError, match="more than 1 commits since"):
        source.commits_since("acme/create-order", before, third)
