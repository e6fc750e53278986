"""Layout: group OCR boxes into rows by vertical overlap and put rows in reading order.

A receipt is one column, so reading order is top to bottom, left to right. Photos are often slightly tilted:
a word is compared with the row's word nearest to it horizontally (not with the whole row), so a row's left and
right ends may sit at different heights.
"""

from __future__ import annotations

from collections.abc import Iterable

from receiptcore.adapters.extractors.ocr.types import Line, Word

MIN_OVERLAP = 0.5  # share of the smaller box's height two boxes must overlap vertically to be on one row


def _vertical_overlap(a: Word, b: Word) -> float:
    overlap = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    return overlap / max(1e-6, min(a.height, b.height))


def _horizontal_gap(a: Word, b: Word) -> float:
    return max(a.box[0] - b.box[2], b.box[0] - a.box[2], 0.0)


def _collides(word: Word, line: Line) -> bool:
    """Whether ``word`` overlaps a word of ``line`` horizontally (two such boxes cannot share a row)."""
    for other in line.words:
        overlap = min(word.box[2], other.box[2]) - max(word.box[0], other.box[0])
        if overlap > 0.3 * min(word.box[2] - word.box[0], other.box[2] - other.box[0]):
            return True
    return False


def group_lines(words: Iterable[Word]) -> list[Line]:
    """Group ``words`` into rows, rows in reading order (page, then top to bottom), words left to right."""
    lines: list[Line] = []
    for word in sorted(words, key=lambda w: (w.page, w.center_y)):
        best: Line | None = None
        best_overlap = MIN_OVERLAP
        # only recent rows can match: the words come sorted by height on the page
        for line in lines[-8:]:
            if line.page != word.page or _collides(word, line):
                continue
            nearest = min(line.words, key=lambda other: _horizontal_gap(word, other))
            overlap = _vertical_overlap(word, nearest)
            if overlap >= best_overlap:
                best, best_overlap = line, overlap
        if best is None:
            lines.append(Line(words=[word]))
        else:
            best.words.append(word)
    for line in lines:
        line.words.sort(key=lambda w: w.box[0])
    lines.sort(key=lambda line: (line.page, sum(w.center_y for w in line.words) / len(line.words)))
    for index, line in enumerate(lines):
        line.index = index
    return lines
