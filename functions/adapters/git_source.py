"""A real git repository as the source system: merges are commits on its branch, reviews are
git notes.

Reviews live in `refs/notes/reviews`, one note per commit, as Gerrit keeps its review data
beside the history: each approval is a line `Approved-by: <name>` appended to the commit's
note. The review gate reads the commit's author and those lines; it never takes approvals from
whoever reported the merge.

Every operation runs the `git` executable; a repository that cannot be read raises
ReviewReadError (the review gate holds the change: fail closed).
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from domain.errors import ReviewReadError
from domain.ports import MAX_COMMITS_SINCE, SourceControl
from domain.review import CommitReview

NOTES_REF = "refs/notes/reviews"
APPROVAL = "Approved-by:"
_FIELD, _RECORD = "\x1f", "\x1e"


def _identity(name: str, email: str, at: datetime) -> dict[str, str]:
    """Who writes a commit or a note, and when, as git reads it from the environment."""
    when = at.isoformat()
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_COMMITTER_DATE": when,
    }


class GitError(ReviewReadError):
    """A git command failed; the message names the repository and the command."""


class GitRepository:
    """One repository on disk (created with its branch when missing)."""

    def __init__(self, path: Path, *, branch: str = "main") -> None:
        self.path = path
        self.branch = branch
        if not (path / ".git").is_dir():
            path.mkdir(parents=True, exist_ok=True)
            self._git("init", "--quiet", f"--initial-branch={branch}")

    def _git(self, *args: str, env: Mapping[str, str] | None = None, stdin: str = "") -> str:
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.path),  # no user or system configuration is read
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "LC_ALL": "C",
            **(env or {}),
        }
        try:
            done = subprocess.run(
                ["git", "-C", str(self.path), *args],
                input=stdin,
                capture_output=True,
                text=True,
                env=environment,
                check=False,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise GitError(f"{self.path}: git {args[0]} could not run ({error})") from None
        if done.returncode != 0:
            raise GitError(f"{self.path}: git {' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done.stdout

    def commit(
        self,
        message: str,
        *,
        author: str,
        at: datetime,
        files: Mapping[str, str] | None = None,
    ) -> str:
        """Commit `files` (path → text) on the branch as `author`; returns the commit id."""
        for name, text in (files or {}).items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            self._git("add", "--", name)
        identity = _identity(author, f"{author}@users.shipwave.local", at)
        self._git("commit", "--quiet", "--allow-empty", "-m", message, env=identity)
        return self.head()

    def head(self) -> str:
        return self._git("rev-parse", "--verify", f"refs/heads/{self.branch}").strip()

    def has_commits(self) -> bool:
        try:
            self.head()
        except GitError:
            return False
        return True

    def archive(self, commit_id: str, into: Path) -> None:
        """A checkout of exactly `commit_id` (its tree, no .git) in the folder `into`."""
        into.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run(
                ["git", "-C", str(self.path), "archive", "--format=tar", commit_id],
                capture_output=True,
                check=False,
                timeout=120,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.path)},
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise GitError(f"{self.path}: git archive could not run ({error})") from None
        if done.returncode != 0:
            raise GitError(f"{self.path}: git archive {commit_id} failed: {done.stderr!r}")
        with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
            tar.extractall(into, filter="data")

    def file_at(self, commit_id: str, path: str) -> str | None:
        """The text of `path` in `commit_id`'s tree, or None when the tree has no such file."""
        listed = self._git("ls-tree", "--name-only", commit_id, "--", path).strip()
        if listed != path:
            return None
        return self._git("show", f"{commit_id}:{path}")

    def rev_list(self, since: str, head: str, *, limit: int) -> tuple[str, ...]:
        """Commits reachable from `head` and not from `since`, oldest first (at most `limit`:
        the newest)."""
        shown = self._git("rev-list", f"--max-count={limit}", f"{since}..{head}", "--")
        return tuple(reversed(shown.split()))

    def log(self, old: str | None, new: str) -> list[tuple[str, str, str]]:
        """(commit id, author, subject) of the commits `old..new`, oldest first."""
        span = f"{old}..{new}" if old else new
        shown = self._git("log", "--reverse", f"--format=%H{_FIELD}%an{_FIELD}%s", span)
        return [
            (commit, author, subject)
            for commit, author, subject in (line.split(_FIELD) for line in shown.splitlines())
        ]

    def approve(self, commit_id: str, by: str, *, at: datetime) -> None:
        """Record `by`'s approval of the commit in its review note."""
        if "\n" in by or "\r" in by:  # a second line would forge another approval
            raise ValueError(f"not a reviewer name: {by!r}")
        identity = _identity(by.strip() or "unnamed", "reviews@users.shipwave.local", at)
        self._git(
            "notes",
            f"--ref={NOTES_REF}",
            "append",
            "-m",
            f"{APPROVAL} {by}",
            commit_id,
            env=identity,
        )

    def reviews(self, commit_ids: Sequence[str]) -> dict[str, CommitReview]:
        """The author and approvers of each named commit the repository has."""
        wanted = list(dict.fromkeys(commit_ids))
        if not wanted:
            return {}
        checked = self._git("cat-file", "--batch-check", stdin="".join(f"{c}\n" for c in wanted))
        known = [
            commit
            for commit, line in zip(wanted, checked.splitlines(), strict=True)
            if line.split(" ")[1:2] == ["commit"]
        ]
        if not known:
            return {}
        shown = self._git(
            "show",
            "--no-patch",
            f"--notes={NOTES_REF}",
            f"--format=%H{_FIELD}%an{_FIELD}%P{_FIELD}%N{_RECORD}",
            *known,
        )
        found: dict[str, CommitReview] = {}
        records = [record.strip("\n") for record in shown.split(_RECORD) if record.strip()]
        for asked, record in zip(known, records, strict=True):
            _, author, parents, note = record.split(_FIELD)
            approvers = tuple(
                dict.fromkeys(
                    # as recorded (git strips a note's trailing blanks): the gate judges it
                    line.removeprefix(APPROVAL).removeprefix(" ")
                    for line in note.splitlines()
                    if line.startswith(APPROVAL)
                )
            )
            found[asked] = CommitReview(
                commit_id=asked,
                author=author,
                approvers=approvers,
                parents=tuple(parents.split()),
            )
        return found


class GitReviewSource(SourceControl):
    """The review record of local git repositories, by the repository name a spec gives."""

    def __init__(self, repositories: Mapping[str, GitRepository]) -> None:
        self.repositories = repositories

    def _repository(self, repository: str) -> GitRepository:
        found = self.repositories.get(repository)
        if found is None:
            raise ReviewReadError(f"no local git repository is named {repository!r}")
        return found

    def commits_since(self, repository: str, since: str, head: str) -> tuple[str, ...]:
        found = self._repository(repository)
        try:
            listed = found.rev_list(since, head, limit=MAX_COMMITS_SINCE + 1)
        except GitError as error:
            raise ReviewReadError(str(error)) from None
        if len(listed) > MAX_COMMITS_SINCE:
            raise ReviewReadError(
                f"{repository}: more than {MAX_COMMITS_SINCE} commits since {since[:12]}: "
                "too many to review one by one"
            )
        return listed

    def reviews(self, repository: str, commit_ids: Sequence[str]) -> dict[str, CommitReview]:
        return self._repository(repository).reviews(commit_ids)
