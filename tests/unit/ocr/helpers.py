"""Build layout rows from plain text for parser tests: each row's cells become words on one baseline."""

from __future__ import annotations

from receiptcore.adapters.extractors.ocr.layout import group_lines
from receiptcore.adapters.extractors.ocr.types import Line, Word

ROW_HEIGHT = 30
CHAR_WIDTH = 12


def rows_to_lines(rows: list[str], heights: dict[int, int] | None = None) -> list[Line]:
    """Turn text rows into layout lines; ``||`` in a row separates words printed apart (left | right)."""
    words: list[Word] = []
    y = 10
    for index, row in enumerate(rows):
        height = (heights or {}).get(index, ROW_HEIGHT)
        cells = [c.strip() for c in row.split("||")]
        x = 10
        for cell_index, cell in enumerate(cells):
            if not cell:
                continue
            width = CHAR_WIDTH * len(cell)
            if cell_index == len(cells) - 1 and len(cells) > 1:
                x = max(x, 600 - width)  # the value column sits at the right edge
            words.append(Word(text=cell, box=(x, y, x + width, y + height), score=0.95))
            x += width + 40
        y += height + 8
    return group_lines(words)
