"""Layout: group OCR boxes into rows by vertical overlap and put rows in reading order.

A receipt is one column, so reading order is top to bottom, left to right. Photos are often slightly tilted:
a word is compared with the row's word nearest to it horizontally (not with the whole row), so a row's left and
right ends may sit at different heights.
"""

from __future__ import annotations

from collections.abc import Iterable

from receiptcore.adapters.extractors.ocr.types import Line, Word

MIN_OVERLAP = 0.5  # share of the smaller box's height two boxes must overlap vertically to be on one row


def _page_slope(words: list[Word]) -> float:
    """The page's text slope: the median slope of wide boxes (short ones give noisy angles)."""
    slopes = sorted(w.slope for w in words if (w.box[2] - w.box[0]) > 2 * w.height and abs(w.slope) < 0.3)
    return slopes[len(slopes) // 2] if len(slopes) >= 3 else 0.0


def _level(word: Word, slope: float) -> Word:
    """``word`` with its box moved to where it would be on a level page (used for grouping only)."""
    width = word.box[2] - word.box[0]
    center_x = (word.box[0] + word.box[2]) / 2
    center_y = word.center_y - slope * center_x
    # the axis-aligned box of a tilted word is taller than the text by |slope| x width
    half = max(1.0, (word.height - abs(slope) * width) / 2)
    return Word(word.text, (word.box[0], center_y - half, word.box[2], center_y + half), word.score, word.page)


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


def _row_slope(lines: list[Line]) -> float:
    """The slope that rows of a first grouping show between their far-apart words (label left, amount right)."""
    slopes = []
    for line in lines:
        if len(line.words) < 2:
            continue
        left, right = line.words[0], line.words[-1]
        dx = (right.box[0] + right.box[2] - left.box[0] - left.box[2]) / 2
        if dx > 3 * max(left.height, right.height):
            slopes.append((right.center_y - left.center_y) / dx)
    slopes.sort()
    return slopes[len(slopes) // 2] if len(slopes) >= 3 else 0.0


def _group(words: list[Word], slopes: dict[int, float]) -> list[Line]:
    leveled = {id(w): _level(w, slopes[w.page]) for w in words}
    lines: list[Line] = []
    for word in sorted(words, key=lambda w: (w.page, leveled[id(w)].center_y)):
        best: Line | None = None
        best_overlap = MIN_OVERLAP
        # only recent rows can match: the words come sorted by height on the page
        for line in lines[-8:]:
            if line.page != word.page or _collides(word, line):
                continue
            nearest = min(line.words, key=lambda other: _horizontal_gap(word, other))
            overlap = _vertical_overlap(leveled[id(word)], leveled[id(nearest)])
            if overlap >= best_overlap:
                best, best_overlap = line, overlap
        if best is None:
            lines.append(Line(words=[word]))
        else:
            best.words.append(word)
    for line in lines:
        line.words.sort(key=lambda w: w.box[0])
    lines.sort(key=lambda line: (line.page, sum(leveled[id(w)].center_y for w in line.words) / len(line.words)))
    return lines


def group_lines(words: Iterable[Word]) -> list[Line]:
    """Group ``words`` into rows, rows in reading order (page, then top to bottom), words left to right.

    The page's tilt comes from the detector's boxes when they show one; otherwise from a first grouping, whose
    rows reveal it (amounts drifting below or above their labels), and the words are grouped again levelled.
    """
    words = list(words)
    pages = {w.page for w in words}
    slopes = {page: _page_slope([w for w in words if w.page == page]) for page in pages}
    lines = _group(words, slopes)
    if all(abs(slope) < 0.005 for slope in slopes.values()):
        found = {page: _row_slope([line for line in lines if line.page == page]) for page in pages}
        if any(abs(slope) >= 0.01 for slope in found.values()):
            lines = _group(words, found)
    for index, line in enumerate(lines):
        line.index = index
    return lines
