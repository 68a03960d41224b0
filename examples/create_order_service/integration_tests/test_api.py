"""Integration tests of create-order, run by the pipeline against a stage's endpoint
(`SHIPWAVE_ENDPOINT`): positive and negative cases over HTTP, as a client sees the service."""

from __future__ import annotations

import json
import os
import unittest
import urllib.error
import urllib.request
from typing import Any

ENDPOINT = os.environ.get("SHIPWAVE_ENDPOINT", "http://127.0.0.1:8080")


def post(path: str, body: Any, *, raw: bytes | None = None) -> tuple[int, dict[str, Any], str]:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(
        ENDPOINT + path, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read()), answer.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers["Content-Type"]


def order(items: int = 1) -> dict[str, Any]:
    return {
        "customer": "c-42",
        "items": [{"sku": f"S{i}", "quantity": 1, "unit_price_cents": 100} for i in range(items)],
    }


class CreateOrderEndpointTest(unittest.TestCase):
    # --- positive cases -------------------------------------------------------------------

    def test_an_order_is_created_and_priced(self) -> None:
        status, answer, kind = post("/orders", order(3))
        self.assertEqual(status, 201)
        self.assertEqual(kind, "application/json")
        self.assertEqual(answer["total_cents"], 300)
        self.assertTrue(answer["order_id"].startswith("o-"))

    def test_the_largest_order_is_taken(self) -> None:
        status, answer, _ = post("/orders", order(50))
        self.assertEqual(status, 201)
        self.assertEqual(len(answer["lines"]), 50)

    # --- negative cases -------------------------------------------------------------------

    def test_an_order_of_more_than_fifty_items_is_refused(self) -> None:
        status, answer, _ = post("/orders", order(51))
        self.assertEqual(status, 400)
        self.assertEqual(answer["errors"], ["items: at most 50"])

    def test_a_body_that_is_not_json_is_refused(self) -> None:
        status, answer, _ = post("/orders", None, raw=b"{not json")
        self.assertEqual(status, 400)
        self.assertEqual(answer["errors"], ["the body is not JSON"])

    def test_an_order_without_items_is_refused(self) -> None:
        status, answer, _ = post("/orders", {"customer": "c-42", "items": []})
        self.assertEqual(status, 400)
        self.assertIn("items: at least one item", answer["errors"])
