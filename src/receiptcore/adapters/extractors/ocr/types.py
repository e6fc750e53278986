"""The shapes the OCR pipeline passes around: a recognised text box (``Word``) and a layout row (``Line``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised text box: its text, axis-aligned pixel box ``(x1, y1, x2, y2)``, confidence and page."""

    text: str
    box: tuple[float, float, float, float]
    score: float = 1.0
    page: int = 1
    slope: float = 0.0  # dy/dx of the text baseline (0 for level text): tilted photos have one for all words

    @property
    def height(self) -> float:
        """Box height in pixels (a proxy for the font size)."""
        return self.box[3] - self.box[1]

    @property
    def center_y(self) -> float:
        """Vertical centre of the box."""
        return (self.box[1] + self.box[3]) / 2


@dataclass(slots=True)
class Line:
    """A row of words that share a baseline, left to right, with its position in reading order."""

    words: list[Word] = field(default_factory=list)
    index: int = 0

    @property
    def text(self) -> str:
        """The row's text, words joined by single spaces."""
        return " ".join(w.text for w in self.words)

    @property
    def page(self) -> int:
        """The page the row is on (1-based)."""
        return self.words[0].page if self.words else 1

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The union of the words' boxes."""
        return (
            min(w.box[0] for w in self.words),
            min(w.box[1] for w in self.words),
            max(w.box[2] for w in self.words),
            max(w.box[3] for w in self.words),
        )

    @property
    def score(self) -> float:
        """The weakest word's confidence: one misread word makes the row doubtful."""
        return min((w.score for w in self.words), default=0.0)

    @property
    def height(self) -> float:
        """Median word height, robust to one tall logo box."""
        heights = sorted(w.height for w in self.words)
        return heights[len(heights) // 2] if heights else 0.0
