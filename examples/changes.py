"""Changes a developer of create-order might merge, as the code of `src/orders.py`: the demo
and the tests merge them into the example service's git repository, and the local runtime's
fleet serves what they do (`statemachines/local/traffic.py`). Each is the example service's
code (`create_order_service/src/orders.py`) with one edit; an edit that no longer applies
raises, so a change to the service cannot silently turn a bug into a no-op.
"""

from __future__ import annotations

from pathlib import Path

ORDERS = Path(__file__).parent / "create_order_service" / "src" / "orders.py"
_PRICED_LINE = '"line_total_cents": item["quantity"] * item["unit_price_cents"],'


def code() -> str:
    """The example service's code as it is first committed."""
    return ORDERS.read_text()


def _edit(old: str, new: str, *, add: str = "") -> str:
    text = code()
    if old not in text:
        raise LookupError(f"{ORDERS.name} has no {old!r} any more: update examples/changes.py")
    return text.replace(old, new) + add


def bulk_discounts() -> str:
    """Bulk discounts, with a real bug no test of the service tries: the tier is the quantity
    rounded down to tens, and there is no tier of 30, 40 or 50 units (a KeyError, so a 502) —
    about 3 % of the customers' orders fail; the canary's one-unit order passes."""
    return _edit(
        _PRICED_LINE,
        '"line_total_cents": _line_total(item),',
        add="""

#: percent off a line of at least this many units
BULK_DISCOUNTS = {10: 5, 20: 10}


def _line_total(item: dict[str, Any]) -> int:
    total: int = item["quantity"] * item["unit_price_cents"]
    if item["quantity"] >= 10:
        total -= total * BULK_DISCOUNTS[item["quantity"] // 10 * 10] // 100
    return total
""",
    )


def slow_burn(limit: int = 13_500) -> str:
    """Each box remembers the orders it accepted (to answer a retried request with the same
    order) in a buffer nothing drains: once a box has accepted `limit` orders it fails every
    order it takes. With the customers' mix (about 88 % of requests are accepted orders) the
    default fills after about 15,000 requests: five hours of a busy region's box, days of a
    quiet one's."""
    return _edit(
        "    return 201, order\n",
        '    _remember(order["order_id"])\n    return 201, order\n',
        add=f"""

#: orders this box accepted lately
RECENT_ORDERS: list[str] = []
RECENT_LIMIT = {limit:_}


def _remember(order_id: str) -> None:
    if len(RECENT_ORDERS) >= RECENT_LIMIT:  # the bug: nothing ever drains the buffer
        raise BufferError("recent-order buffer full")
    RECENT_ORDERS.append(order_id)
""",
    )


def unit_price_bug() -> str:
    """A real bug its unit tests catch: each line is priced as one unit."""
    return _edit(_PRICED_LINE, '"line_total_cents": item["unit_price_cents"],')


def no_item_limit() -> str:
    """Orders of any size: its unit tests never try 51 items, its integration tests do."""
    return _edit("MAX_ITEMS = 50\n", "MAX_ITEMS = 5000\n")
