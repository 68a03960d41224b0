"""The review record of GitHub: which merged pull request brought each commit, and who
approved it, read through GitHub's REST API with a token.

For each commit: `GET /repos/{owner}/{repo}/commits/{sha}/pulls` lists the pull requests
associated with it; the one that was merged stands for it (none: no record, the commit waits
at source). Its author is the pull request's `user.login`; its approvers are the reviewers
whose latest review state is APPROVED *on the pull request's final head commit*
(`GET /repos/{owner}/{repo}/pulls/{number}/reviews`, every page): an approval of an earlier
push does not approve what was pushed after it, and a later CHANGES_REQUESTED or DISMISSED
withdraws it. The commits a push brought are GitHub's comparison of the branch's previous head
with the new one (`GET /repos/{owner}/{repo}/compare/{base}...{head}`, every page of its
commits). Any answer other than 200 (or no answer) raises ReviewReadError: the change
waits at source with the reason (fail closed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import urllib3

from domain.errors import ReviewReadError
from domain.ports import MAX_COMMITS_SINCE, SourceControl
from domain.review import CommitReview

API = "https://api.github.com"
#: the REST API version these reads are written against (GitHub's versioning header)
API_VERSION = "2022-11-28"
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
#: review states that decide a reviewer's standing (COMMENTED and PENDING do not)
_DECIDING = ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")
MAX_PAGES = 20


class GitHubReviewSource(SourceControl):
    def __init__(
        self,
        token: Callable[[], str],
        *,
        api: str = API,
        http: urllib3.PoolManager | None = None,
    ) -> None:
        self._token = token
        self._api = api.rstrip("/")
        self._http = http or urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3.0, read=10.0),
            retries=urllib3.Retry(total=3, backoff_factor=0.5, status_forcelist=(502, 503, 504)),
        )

    def commits_since(self, repository: str, since: str, head: str) -> tuple[str, ...]:
        self._check(repository)
        path = f"/repos/{repository}/compare/{since}...{head}"
        listed: list[str] = []
        total = None
        for page in range(1, MAX_PAGES + 1):
            comparison = json.loads(self._get(f"{self._api}{path}?per_page=100&page={page}").data)
            if not isinstance(comparison, dict) or not isinstance(
                comparison.get("total_commits"), int
            ):
                raise ReviewReadError(f"GitHub {path}: not a comparison of two commits")
            total = comparison["total_commits"]
            if total > MAX_COMMITS_SINCE:
                raise ReviewReadError(
                    f"GitHub {path}: {total} commits, more than {MAX_COMMITS_SINCE}: too many "
                    "to review one by one"
                )
            commits = comparison.get("commits") or []
            listed.extend(str(c.get("sha") or "") for c in commits if isinstance(c, dict))
            if len(listed) >= total or not commits:
                break
        if total is None or len(listed) != total or not all(listed):
            raise ReviewReadError(
                f"GitHub {path}: listed {len(listed)} of {total} commits: cannot tell them all"
            )
        return tuple(listed)

    @staticmethod
    def _check(repository: str) -> None:
        if repository.count("/") != 1:
            raise ReviewReadError(f"{repository!r} is not a GitHub repository (owner/name)")

    def reviews(self, repository: str, commit_ids: Sequence[str]) -> dict[str, CommitReview]:
        self._check(repository)
        found: dict[str, CommitReview] = {}
        for commit in dict.fromkeys(commit_ids):
            pull = self._merged_pull(repository, commit)
            if pull is None:
                continue  # no merged pull request brought it: no approval on record
            found[commit] = CommitReview(
                commit_id=commit,
                author=str((pull.get("user") or {}).get("login") or "unknown"),
                approvers=self._approvers(repository, pull),
            )
        return found

    def _merged_pull(self, repository: str, commit: str) -> dict[str, Any] | None:
        pulls = self._pages(f"/repos/{repository}/commits/{commit}/pulls")
        merged = [p for p in pulls if isinstance(p, dict) and p.get("merged_at")]
        return merged[0] if merged else None

    def _approvers(self, repository: str, pull: dict[str, Any]) -> tuple[str, ...]:
        head = str((pull.get("head") or {}).get("sha") or "")
        latest: dict[str, tuple[str, str]] = {}
        for review in self._pages(f"/repos/{repository}/pulls/{pull['number']}/reviews"):
            login = str((review.get("user") or {}).get("login") or "")
            state = str(review.get("state") or "")
            if login and state in _DECIDING:  # chronological: the last one stands
                latest[login] = (state, str(review.get("commit_id") or ""))
        return tuple(
            login
            for login, (state, commit) in latest.items()
            if state == "APPROVED" and head and commit == head
        )

    def _pages(self, path: str) -> list[Any]:
        url: str | None = f"{self._api}{path}?per_page=100"
        items: list[Any] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return items
            answer = self._get(url)
            page = json.loads(answer.data)
            if not isinstance(page, list):
                raise ReviewReadError(f"GitHub {path}: expected a list, got {type(page).__name__}")
            items.extend(page)
            following = _NEXT.search(answer.headers.get("Link", ""))
            url = following.group(1) if following else None
        raise ReviewReadError(f"GitHub {path}: more than {MAX_PAGES} pages")

    def _get(self, url: str) -> urllib3.BaseHTTPResponse:
        try:
            answer = self._http.request(
                "GET",
                url,
                headers={
                    "Accept": "application/vnd.github+json",
                    "Authorization": f"Bearer {self._token()}",
                    "X-GitHub-Api-Version": API_VERSION,
                    "User-Agent": "shipwave",
                },
            )
        except urllib3.exceptions.HTTPError as error:
            raise ReviewReadError(f"GitHub did not answer {url} ({error})") from None
        if answer.status != 200:
            raise ReviewReadError(f"GitHub answered {answer.status} to {url}")
        return answer
