"""Each pipeline's own source system: CodeCommit for a CodeCommit repository, GitHub for a
GitHub one, as the pipeline's spec (`source`) says; both the commits a push brought and their
review record come from it.

A repository no spec names, or whose source system has no reader configured, has no record:
ReviewReadError, and its change waits at source with the reason (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from domain.errors import ReviewReadError
from domain.ports import SourceControl
from domain.review import CommitReview
from domain.spec import PipelineSpec


class SourceSystemReviews(SourceControl):
    def __init__(
        self,
        specs: Callable[[], Iterable[PipelineSpec]],
        readers: Mapping[str, SourceControl],
    ) -> None:
        self._specs = specs
        self._readers = readers

    def commits_since(self, repository: str, since: str, head: str) -> tuple[str, ...]:
        return self._reader(repository).commits_since(repository, since, head)

    def reviews(self, repository: str, commit_ids: Sequence[str]) -> dict[str, CommitReview]:
        return self._reader(repository).reviews(repository, commit_ids)

    def _reader(self, repository: str) -> SourceControl:
        systems = {spec.source for spec in self._specs() if spec.repository == repository}
        if len(systems) != 1:
            raise ReviewReadError(
                f"{repository}: "
                + (
                    "no pipeline names this repository"
                    if not systems
                    else f"pipelines name it on {sorted(systems)}: which record counts is unclear"
                )
            )
        (system,) = systems
        reader = self._readers.get(system)
        if reader is None:
            raise ReviewReadError(f"{repository}: no {system} review record is configured")
        return reader
