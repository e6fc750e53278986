"""A scripted extractor for evaluation tests: answers from a table keyed by file name, records every call."""

from __future__ import annotations

from collections.abc import Callable

from receiptcore.domain.receipt import ExtractedReceipt
from receiptcore.errors import ExtractionFailed
from receiptcore.ports import Document


class ScriptedExtractor:
    """Returns the scripted receipt for ``document.filename``; raises ExtractionFailed for a missing one."""

    name = "scripted"
    version = "1"

    def __init__(self, answers: dict[str, ExtractedReceipt], on_extract: Callable[[str], None] | None = None) -> None:
        self.answers = answers
        self.on_extract = on_extract

    async def extract(self, document: Document) -> ExtractedReceipt:
        key = f"{document.filename}"
        if self.on_extract is not None:
            self.on_extract(key)
        if key not in self.answers:
            raise ExtractionFailed("scripted failure")
        return self.answers[key]
