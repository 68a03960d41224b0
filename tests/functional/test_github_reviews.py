"""The GitHub review record, read over HTTP from a stand-in of GitHub's REST API that serves
GitHub's published response shapes (tests/fixtures/github/README.md cites them)."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from adapters.github_reviews import GitHubReviewSource
from domain.errors import ReviewReadError
from domain.review import CommitReview, check_commit

REST = Path(__file__).parents[1] / "fixtures" / "github" / "rest"
REPOSITORY = "acme/create-order"
MERGED = "5f1c0ffee0123456789abcdef0123456789abcde"  # the commit the pipeline deploys
HEAD = "9a8b7c6d5e4f30211234567890abcdef12345678"  # the pull request's final head
EARLIER = "1111111111111111111111111111111111111111"  # a push before it
TOKEN = "ghs_a-token-from-secrets-manager"


def published(name: str) -> list[dict[str, Any]]:
    return json.loads((REST / name).read_text())  # type: ignore[no-any-return]


def pull(*, author: str = "mary", merged: bool = True, number: int = 1347) -> dict[str, Any]:
    found = copy.deepcopy(published("commit-pulls.json")[0])
    found.update(number=number, merged_at=found["merged_at"] if merged else None)
    found["user"]["login"] = author
    found["head"]["sha"] = HEAD
    found["merge_commit_sha"] = MERGED
    return found


def review(login: str, state: str, commit: str = HEAD) -> dict[str, Any]:
    found = copy.deepcopy(published("pull-reviews.json")[0])
    found["user"]["login"] = login
    found.update(state=state, commit_id=commit)
    return found


class StandIn:
    """GitHub's REST API for one repository: routes → (status, JSON, Link header)."""

    def __init__(self) -> None:
        self.routes: dict[str, list[tuple[int, Any, str]]] = {}
        self.requests: list[Request] = []

    def answer(self, path: str, body: Any, *, status: int = 200, link: str = "") -> None:
        self.routes.setdefault(path, []).append((status, body, link))

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(request)
        key = request.path + (f"?page={request.args['page']}" if "page" in request.args else "")
        answers = self.routes.get(key) or [(404, {"message": "Not Found"}, "")]
        status, body, link = answers[0] if len(answers) == 1 else answers.pop(0)
        headers = {"Link": link} if link else {}
        return Response(json.dumps(body), status, headers, content_type="application/json")(
            environ, start_response
        )


@pytest.fixture
def github() -> Iterator[tuple[StandIn, str]]:
    stand_in = StandIn()
    server = make_server("127.0.0.1", 0, stand_in, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stand_in, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def source(url: str) -> GitHubReviewSource:
    return GitHubReviewSource(lambda: TOKEN, api=url)


def test_a_commit_is_approved_by_who_approved_its_merged_pull_requests_final_head(
    github: tuple[StandIn, str],
) -> None:
    stand_in, url = github
    base = f"/repos/{REPOSITORY}"
    stand_in.answer(f"{base}/commits/{MERGED}/pulls", [pull()])
    page_two = f"{url}{base}/pulls/1347/reviews?per_page=100&page=2"
    stand_in.answer(
        f"{base}/pulls/1347/reviews",
        [
            review("bo", "APPROVED", EARLIER),  # approved an earlier push only
            review("chen", "APPROVED"),
            review("ana", "COMMENTED"),
        ],
        link=f'<{page_two}>; rel="next", <{page_two}>; rel="last"',
    )
    stand_in.answer(
        f"{base}/pulls/1347/reviews?page=2",
        [review("ana", "APPROVED"), review("chen", "CHANGES_REQUESTED")],  # chen withdrew
    )
    found = source(url).reviews(REPOSITORY, [MERGED])
    assert found == {MERGED: CommitReview(commit_id=MERGED, author="mary", approvers=("ana",))}
    assert check_commit(found[MERGED], MERGED, frozenset({"ana", "bo"})) is None
    sent = stand_in.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert sent.headers["Accept"] == "application/vnd.github+json"


def test_a_commit_no_merged_pull_request_brought_has_no_record(github: tuple[StandIn, str]) -> None:
    stand_in, url = github
    stand_in.answer(f"/repos/{REPOSITORY}/commits/{MERGED}/pulls", [pull(merged=False)])
    assert source(url).reviews(REPOSITORY, [MERGED]) == {}  # the gate holds it: no-record


def test_the_authors_own_approval_does_not_count(github: tuple[StandIn, str]) -> None:
    stand_in, url = github
    stand_in.answer(f"/repos/{REPOSITORY}/commits/{MERGED}/pulls", [pull(author="ana")])
    stand_in.answer(f"/repos/{REPOSITORY}/pulls/1347/reviews", [review("ana", "APPROVED")])
    found = source(url).reviews(REPOSITORY, [MERGED])
    problem = check_commit(found[MERGED], MERGED, frozenset({"ana", "bo"}))
    assert problem is not None
    assert problem.code == "author-only"


@pytest.mark.parametrize("status", [401, 403, 404, 500])
def test_an_answer_other_than_200_cannot_confirm_a_review(
    github: tuple[StandIn, str], status: int
) -> None:
    stand_in, url = github
    stand_in.answer(f"/repos/{REPOSITORY}/commits/{MERGED}/pulls", {"message": "no"}, status=status)
    with pytest.raises(ReviewReadError, match=f"GitHub answered {status}"):
        source(url).reviews(REPOSITORY, [MERGED])


def test_github_that_does_not_answer_cannot_confirm_a_review() -> None:
    with pytest.raises(ReviewReadError, match="did not answer"):
        source("http://127.0.0.1:9").reviews(REPOSITORY, [MERGED])  # nothing listens there


def test_a_repository_that_is_not_owner_name_is_refused() -> None:
    with pytest.raises(ReviewReadError, match="not a GitHub repository"):
        source("http://127.0.0.1:9").reviews("create-order", [MERGED])


# --- the commits a push brought: GitHub's comparison of the two heads ---------------------------

BEFORE = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"  # the push's `before`


def comparison(*shas: str, total: int | None = None) -> dict[str, Any]:
    found = copy.deepcopy(json.loads((REST / "compare-commits.json").read_text()))
    template = found["commits"][0]
    found["commits"] = [dict(copy.deepcopy(template), sha=sha) for sha in shas]
    found.update(status="ahead", ahead_by=len(shas), behind_by=0)
    found["total_commits"] = len(shas) if total is None else total
    return found  # type: ignore[no-any-return]


def test_the_commits_a_push_brought_are_githubs_comparison_page_by_page(
    github: tuple[StandIn, str],
) -> None:
    stand_in, url = github
    path = f"/repos/{REPOSITORY}/compare/{BEFORE}...{MERGED}"
    first = [f"{n:040x}" for n in range(1, 101)]
    stand_in.answer(f"{path}?page=1", comparison(*first, total=102))
    stand_in.answer(f"{path}?page=2", comparison(HEAD, MERGED, total=102))
    assert source(url).commits_since(REPOSITORY, BEFORE, MERGED) == (*first, HEAD, MERGED)
    assert [r.args["per_page"] for r in stand_in.requests] == ["100", "100"]


def test_a_comparison_that_cannot_list_every_commit_fails_closed(
    github: tuple[StandIn, str],
) -> None:
    stand_in, url = github
    path = f"/repos/{REPOSITORY}/compare/{BEFORE}...{MERGED}"
    stand_in.answer(f"{path}?page=1", comparison(MERGED, total=3))
    stand_in.answer(f"{path}?page=2", comparison(total=3))  # GitHub stops short
    with pytest.raises(ReviewReadError, match="listed 1 of 3 commits"):
        source(url).commits_since(REPOSITORY, BEFORE, MERGED)
    too_many = f"/repos/{REPOSITORY}/compare/{BEFORE}...{HEAD}"
    stand_in.answer(f"{too_many}?page=1", comparison(HEAD, total=900))
    with pytest.raises(ReviewReadError, match="900 commits, more than 250"):
        source(url).commits_since(REPOSITORY, BEFORE, HEAD)
    with pytest.raises(ReviewReadError, match="GitHub answered 404"):
        source(url).commits_since(REPOSITORY, BEFORE, EARLIER)  # a head GitHub does not know
