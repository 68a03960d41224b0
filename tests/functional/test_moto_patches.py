"""The local runtime's moto patch points fail loudly when moto moves them."""

from __future__ import annotations

import pytest
from moto.dynamodb.models import DynamoDBBackend

from statemachines.local.moto_patches import MotoPatchError, isolate_dynamodb, self_test


def test_self_test_passes_on_the_pinned_moto() -> None:
    self_test()


def test_a_missing_patch_point_is_an_error_not_a_silent_skip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(DynamoDBBackend, "transact_write_items")
    with pytest.raises(MotoPatchError, match="transact_write_items"):
        isolate_dynamodb()
