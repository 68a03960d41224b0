"""Unit tests of the create-order handler: run by the build, with no network."""

from __future__ import annotations

import json
import unittest

from orders import create_order, handler

ORDER = {
    "customer": "c-1",
    "items": [
        {"sku": "A1", "quantity": 2, "unit_price_cents": 1250},
        {"sku": "B7", "quantity": 1, "unit_price_cents": 499},
    ],
}


class CreateOrderTest(unittest.TestCase):
    def test_an_order_is_priced_line_by_line(self) -> None:
        status, order = create_order(ORDER)
        self.assertEqual(status, 201)
        self.assertEqual([line["line_total_cents"] for line in order["lines"]], [2500, 499])
        self.assertEqual(order["total_cents"], 2999)

    def test_the_same_order_gets_the_same_id(self) -> None:
        self.assertEqual(create_order(ORDER)[1]["order_id"], create_order(ORDER)[1]["order_id"])

    def test_every_problem_is_named(self) -> None:
        status, answer = create_order({"items": [{"sku": "", "quantity": 0}]})
        self.assertEqual(status, 400)
        self.assertEqual(
            answer["errors"],
            [
                "customer: required",
                "items[0].sku: required",
                "items[0].quantity: must be 1 to 1000",
                "items[0].unit_price_cents: must be a whole number of cents >= 0",
            ],
        )

    def test_an_empty_order_is_refused(self) -> None:
        self.assertEqual(create_order({"customer": "c", "items": []})[0], 400)

    def test_the_handler_answers_json(self) -> None:
        answer = handler({"body": json.dumps(ORDER)}, None)
        self.assertEqual(answer["statusCode"], 201)
        self.assertEqual(json.loads(answer["body"])["total_cents"], 2999)
        self.assertEqual(handler({"body": "{"}, None)["statusCode"], 400)


if __name__ == "__main__":
    unittest.main()
