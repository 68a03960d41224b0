"""The review record of each pipeline's own source system: CodeCommit's for a CodeCommit
repository, GitHub's for a GitHub one, as the pipeline's spec (`source`) says.

A repository no spec names, or whose source system has no reader configured, has no record:
ReviewReadError, and its change waits at source with the reason (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from domain.errors import ReviewReadError
from domain.ports import ReviewSource
from domain.review import CommitReview
from domain.spec import PipelineSpec


class SourceSystemReviews(ReviewSource):
    def __init__(
        self,
        specs: Callable[[], Iterable[PipelineSpec]],
        readers: Mapping[str, ReviewSource],
    ) -> None:
        self._specs = specs
        self._readers = readers

    def reviews(self, repository: str, commit_ids: Sequence[str]) -> dict[str, CommitReview]:
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
        return reader.reviews(repository, commit_ids)
