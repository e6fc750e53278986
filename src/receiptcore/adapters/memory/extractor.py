"""MemoryExtractor: a scripted Extractor, the double of unit and API tests (and a demo extractor).

It answers from a script: per sha256 of the document, per filename, or a default. A scripted answer is a receipt,
an exception instance to raise, or a list of those consumed one per call (the last one repeats), which is how
tests play "fails twice, then succeeds". Every document it sees is recorded in ``calls``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

from receiptcore.domain.receipt import ExtractedReceipt
from receiptcore.ports import Document, Extractor

Answer = ExtractedReceipt | BaseException
Script = Answer | Sequence[Answer]


class MemoryExtractor(Extractor):
    """Returns preset ExtractedReceipts (or raises preset errors) without reading the document.

    Args:
        default: the answer for documents nothing else matches (an empty receipt when None).
        by_sha256: answers keyed by the sha256 hex of the document bytes.
        by_filename: answers keyed by the document's filename.
        delay: seconds to sleep per call (to test concurrency and timeouts).
        name: the extractor name recorded on attempts.
        version: the extractor version recorded on attempts.
    """

    def __init__(
        self,
        default: Script | None = None,
        *,
        by_sha256: dict[str, Script] | None = None,
        by_filename: dict[str, Script] | None = None,
        delay: float = 0.0,
        name: str = "memory",
        version: str = "1.0",
    ) -> None:
        self.name = name
        self.version = version
        self._default: Script = default if default is not None else ExtractedReceipt()
        self._by_sha256: dict[str, Script] = dict(by_sha256 or {})
        self._by_filename: dict[str, Script] = dict(by_filename or {})
        self._delay = delay
        self._served: dict[int, int] = {}
        self.calls: list[Document] = []

    def script(self, answer: Script, *, sha256: str | None = None, filename: str | None = None) -> None:
        """Set the answer for a sha256, a filename, or (neither given) the default."""
        if sha256 is not None:
            self._by_sha256[sha256] = answer
        elif filename is not None:
            self._by_filename[filename] = answer
        else:
            self._default = answer

    async def extract(self, document: Document) -> ExtractedReceipt:
        """Return (or raise) the scripted answer for ``document``."""
        self.calls.append(document)
        if self._delay:
            await asyncio.sleep(self._delay)
        sha = hashlib.sha256(document.content).hexdigest()
        script = self._by_sha256.get(sha)
        if script is None and document.filename is not None:
            script = self._by_filename.get(document.filename)
        answer = self._next(script if script is not None else self._default)
        if isinstance(answer, BaseException):
            raise answer
        return answer.model_copy(deep=True)

    def _next(self, script: Script) -> Answer:
        if isinstance(script, ExtractedReceipt | BaseException):
            return script
        answers = list(script)
        served = self._served.get(id(script), 0)
        self._served[id(script)] = served + 1
        return answers[min(served, len(answers) - 1)]
