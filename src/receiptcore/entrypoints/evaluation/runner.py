"""Run an extractor over a labelled set: predictions first, labels only afterwards, with timing and memory.

Memory is the process's peak resident set (``VmHWM`` in ``/proc/self/status``, else ``ru_maxrss``):
``tracemalloc`` cannot see onnxruntime's native allocations, which dominate OCR.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from receiptcore.domain.receipt import ExtractedReceipt
from receiptcore.entrypoints.evaluation.datasets import SUBSETS, Label, Sample, load_label
from receiptcore.entrypoints.evaluation.review_load import ReviewJudgement, ReviewSummary, judge, summarize_review
from receiptcore.entrypoints.evaluation.scoring import FieldScore, FieldSummary, score, summarize
from receiptcore.errors import ExtractionFailed
from receiptcore.ports import Document, Extractor

ALL_SUBSETS = "all"


@dataclass(slots=True)
class SampleResult:
    """One receipt's outcome: the prediction (None on failure), the label read after it, scores, time and the
    process's peak memory right after it (it only grows: the receipt that raises it is the one to look at)."""

    sample: Sample
    seconds: float
    prediction: ExtractedReceipt | None
    error: str | None = None
    label: Label | None = None
    scores: dict[str, FieldScore] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    review: ReviewJudgement | None = None


@dataclass(slots=True)
class Report:
    """The evaluation of one extractor on one set."""

    extractor: str
    extractor_version: str
    dataset: str
    results: list[SampleResult]
    summaries: list[FieldSummary]
    peak_memory_mb: float
    baseline_memory_mb: float
    review: list[ReviewSummary] = field(default_factory=list)
    default_currency: str | None = None

    @property
    def seconds(self) -> list[float]:
        """Seconds per receipt, in sample order."""
        return [r.seconds for r in self.results]

    @property
    def median_seconds(self) -> float:
        """Median seconds per receipt (0 for an empty run)."""
        return statistics.median(self.seconds) if self.results else 0.0

    @property
    def failures(self) -> int:
        """How many documents the extractor failed on."""
        return sum(1 for r in self.results if r.error is not None)


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MiB."""
    try:
        with Path("/proc/self/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


async def _extract(extractor: Extractor, sample: Sample) -> tuple[ExtractedReceipt | None, str | None, float]:
    content = sample.document.read_bytes()
    document = Document(content=content, media_type=sample.media_type, filename=sample.document.name)
    started = time.perf_counter()
    try:
        prediction: ExtractedReceipt | None = await extractor.extract(document)
        error = None
    except ExtractionFailed as exc:
        prediction, error = None, f"{type(exc).__name__}: {exc.detail}"
    return prediction, error, time.perf_counter() - started


async def evaluate(
    extractor: Extractor,
    samples: list[Sample],
    dataset: str,
    on_progress: Callable[[SampleResult], Any] | None = None,
    default_currency: str | None = None,
) -> Report:
    """Extract every sample, then score it against its label (read only once the prediction exists) and judge
    the review decision the worker would take (with ``default_currency`` assumed where none is printed)."""
    baseline = peak_rss_mb()
    results: list[SampleResult] = []
    for sample in samples:
        prediction, error, seconds = await _extract(extractor, sample)
        result = SampleResult(
            sample=sample, seconds=seconds, prediction=prediction, error=error, peak_rss_mb=peak_rss_mb()
        )
        result.label = load_label(sample)
        result.scores = score(sample.subset, prediction, result.label)
        result.review = judge(prediction, result.scores, default_currency)
        results.append(result)
        if on_progress is not None:
            on_progress(result)
    summaries: list[FieldSummary] = []
    review: list[ReviewSummary] = []
    for subset in SUBSETS:
        in_subset = [r for r in results if r.sample.subset == subset]
        if in_subset:
            summaries.extend(summarize(subset, [r.scores for r in in_subset]))
            review.append(summarize_review(subset, [r.review for r in in_subset if r.review is not None]))
    if len(review) > 1:
        # the review-load targets are per set: the subsets together
        review.append(summarize_review(ALL_SUBSETS, [r.review for r in results if r.review is not None]))
    return Report(
        extractor=extractor.name,
        extractor_version=extractor.version,
        dataset=dataset,
        results=results,
        summaries=summaries,
        peak_memory_mb=peak_rss_mb(),
        baseline_memory_mb=baseline,
        review=review,
        default_currency=default_currency,
    )
