"""create-order: `POST /orders` takes items and answers with the priced order.

The request body is JSON: `{"customer": "c-1", "items": [{"sku": "A1", "quantity": 2,
"unit_price_cents": 1250}]}`. The answer is 201 with the order (its id, lines and total in
cents) or 400 with every problem found.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_ITEMS = 50
MAX_QUANTITY = 1000


def create_order(body: Any) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON answer) for one create-order request body."""
    problems = _problems(body)
    if problems:
        return 400, {"errors": problems}
    lines = [
        {
            "sku": item["sku"],
            "quantity": item["quantity"],
            "line_total_cents": item["quantity"] * item["unit_price_cents"],
        }
        for item in body["items"]
    ]
    total = sum(line["line_total_cents"] for line in lines)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    order = {
        "order_id": f"o-{digest[:16]}",
        "customer": body["customer"],
        "lines": lines,
        "total_cents": total,
    }
    return 201, order


def _problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    problems = []
    customer = body.get("customer")
    if not isinstance(customer, str) or not customer.strip():
        problems.append("customer: required")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        return [*problems, "items: at least one item"]
    if len(items) > MAX_ITEMS:
        problems.append(f"items: at most {MAX_ITEMS}")
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be an object")
            continue
        if not isinstance(item.get("sku"), str) or not item["sku"]:
            problems.append(f"{where}.sku: required")
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            problems.append(f"{where}.quantity: must be a whole number")
        elif not 1 <= quantity <= MAX_QUANTITY:
            problems.append(f"{where}.quantity: must be 1 to {MAX_QUANTITY}")
        price = item.get("unit_price_cents")
        if not isinstance(price, int) or isinstance(price, bool) or price < 0:
            problems.append(f"{where}.unit_price_cents: must be a whole number of cents >= 0")
    return problems


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """The Lambda entry point behind API Gateway / a Function URL (payload format 2.0)."""
    try:
        body = json.loads(event.get("body") or "null")
    except ValueError:
        status, answer = 400, {"errors": ["the body is not JSON"]}
    else:
        status, answer = create_order(body)
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(answer),
    }
