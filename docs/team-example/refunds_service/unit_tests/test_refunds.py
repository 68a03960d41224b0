import unittest

from refunds import refund


class RefundTest(unittest.TestCase):
    def test_a_positive_amount_is_accepted(self) -> None:
        self.assertEqual(refund(500)["status"], "accepted")

    def test_nothing_is_refunded_for_nothing(self) -> None:
        with self.assertRaises(ValueError):
            refund(0)
