"""create-order's customers, as the local runtime's fleet serves them: `requests()` is an
endless, deterministic stream of requests (method, path, JSON body) in the mix production sees.

Most customers order a few items; some order in bulk (a line of 10 to 60 units); some send
orders the service must refuse (no items, a quantity of 0, a body that is not JSON). The
stream is the same on every run, so a version's behaviour is the same on every run.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

SKUS = tuple(f"SKU-{n:03d}" for n in range(1, 121))


def _line(rng: random.Random, quantity: int) -> dict[str, Any]:
    return {
        "sku": rng.choice(SKUS),
        "quantity": quantity,
        "unit_price_cents": rng.randrange(99, 25_000),
    }


def _order(rng: random.Random, customer: int) -> Any:
    kind = rng.random()
    if kind < 0.05:  # a bulk order: one line of 10 to 60 units
        lines = [_line(rng, rng.randint(10, 60)), _line(rng, 1)]
    elif kind < 0.08:  # a large basket
        lines = [_line(rng, rng.randint(1, 3)) for _ in range(rng.randint(6, 20))]
    elif kind < 0.10:  # no items
        return {"customer": f"c-{customer}", "items": []}
    elif kind < 0.12:  # a quantity of 0
        return {"customer": f"c-{customer}", "items": [_line(rng, 0)]}
    else:  # the common basket: one to five items, one to three of each
        lines = [_line(rng, rng.randint(1, 3)) for _ in range(rng.randint(1, 5))]
    return {"customer": f"c-{customer}", "items": lines}


def requests() -> Iterator[dict[str, str]]:
    rng = random.Random(20_260_101)
    while True:
        customer = rng.randrange(1, 50_000)
        if rng.random() < 0.005:
            yield {"method": "POST", "path": "/orders", "body": "{not json"}
            continue
        yield {"method": "POST", "path": "/orders", "body": json.dumps(_order(rng, customer))}
