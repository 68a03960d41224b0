"""The refunds service: a Lambda function behind a Function URL."""

from __future__ import annotations

import json
from typing import Any


def refund(amount_cents: int) -> dict[str, Any]:
    if amount_cents <= 0:
        raise ValueError("a refund is a positive amount")
    return {"status": "accepted", "amount_cents": amount_cents}


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    method = event.get("requestContext", {}).get("http", {}).get("method", "GET")
    if method == "GET":
        return {"statusCode": 200, "body": json.dumps({"service": "refunds"})}
    try:
        body = json.loads(event.get("body") or "{}")
        answer = refund(int(body["amount_cents"]))
    except (ValueError, KeyError, TypeError) as error:
        return {"statusCode": 400, "body": json.dumps({"error": str(error)})}
    return {"statusCode": 201, "body": json.dumps(answer)}
