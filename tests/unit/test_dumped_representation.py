"""``dumped_receipt_to_api`` (the one-receipt fast path's representation, from the receipt's JSON-mode dump) is
``receipt_to_api`` of the receipt, byte for byte once encoded, for every kind of receipt."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings

from receiptcore.domain.receipt import Receipt
from receiptcore.entrypoints.http.raw import encode_json
from receiptcore.entrypoints.http.representation import dumped_receipt_to_api, receipt_to_api
from tests.support.receipt_strategies import receipts


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(receipts())
def test_the_representation_of_a_dump_is_the_representation_of_the_receipt(receipt: Receipt) -> None:
    expected = encode_json(receipt_to_api(receipt))
    # the dump as a store keeps it (the JSON text, parsed) and as pydantic gives it in memory
    assert encode_json(dumped_receipt_to_api(json.loads(receipt.model_dump_json()))) == expected
    assert encode_json(dumped_receipt_to_api(receipt.model_dump(mode="json"))) == expected
