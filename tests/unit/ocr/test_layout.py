from receiptcore.adapters.extractors.ocr.layout import group_lines
from receiptcore.adapters.extractors.ocr.types import Word


def test_boxes_on_one_baseline_form_one_row_left_to_right() -> None:
    words = [
        Word("12.50", (400, 102, 460, 128)),
        Word("TOTAL", (10, 100, 80, 126)),
        Word("CASH", (10, 140, 70, 166)),
        Word("20.00", (400, 141, 460, 167)),
    ]
    lines = group_lines(words)
    assert [line.text for line in lines] == ["TOTAL 12.50", "CASH 20.00"]
    assert [line.index for line in lines] == [0, 1]


def test_a_tilted_photo_keeps_rows_apart() -> None:
    slope = 0.08  # about 4.5 degrees: the right column sits lower than its label by more than a row gap
    words = []
    for row, (label, value) in enumerate([("TOTAL", "8.24"), ("GST", "0.75"), ("CASH", "9.00")]):
        top = 100 + row * 36
        words.append(Word(label, (10, top, 90, top + 30 + 80 * slope), slope=slope))
        shift = 500 * slope
        words.append(Word(value, (500, top + shift, 560, top + shift + 30 + 60 * slope), slope=slope))
    assert [line.text for line in group_lines(words)] == ["TOTAL 8.24", "GST 0.75", "CASH 9.00"]


def test_pages_stay_in_order() -> None:
    words = [Word("second", (0, 0, 50, 20), page=2), Word("first", (0, 500, 50, 520), page=1)]
    assert [line.text for line in group_lines(words)] == ["first", "second"]
