"""Readers for labelled receipt sets in the layout of ``shared/data/receipts``.

Two layouts, told apart by their labels: SROIE (``NNN.jpg`` + ``NNN.json`` with company/date/address/total)
and WildReceipt (``NNN.jpg`` + ``NNN.json`` with box ``annotations`` and derived ``fields``). A dataset directory
holds ``sroie/`` and/or ``wildreceipt/``, or is one of them. Discovery lists documents only; a label is read by
``load_label`` after the prediction is made, so extraction can never see it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from receiptcore.errors import ValidationFailed

Subset = Literal["sroie", "wildreceipt"]
SUBSETS: tuple[Subset, ...] = ("sroie", "wildreceipt")
DOCUMENT_SUFFIXES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
                     ".pdf": "application/pdf"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Sample:
    """One document of a labelled set: its id, subset, document path, media type and label path."""

    id: str
    subset: Subset
    document: Path
    media_type: str
    label_path: Path


@dataclass(frozen=True, slots=True)
class Label:
    """What a label says, in one shape for both layouts (texts as printed, before normalisation).

    ``totals`` and ``dates`` may hold several boxes (any of them counts); ``store_names`` lists the store-name
    boxes of a WildReceipt label; ``items`` its item-name boxes.
    """

    company: str | None = None
    address: str | None = None
    dates: tuple[str, ...] = ()
    totals: tuple[str, ...] = ()
    store_names: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)


def _subset_dirs(root: Path) -> list[tuple[Subset, Path]]:
    if root.name in SUBSETS:
        return [(root.name, root)]
    found = [(name, root / name) for name in SUBSETS if (root / name).is_dir()]
    if not found:
        raise ValidationFailed(f"{root} holds neither sroie/ nor wildreceipt/ (see the dataset README)")
    return found


def discover(root: Path, subset: Subset | None = None, limit: int | None = None) -> list[Sample]:
    """The labelled documents under ``root``, sorted by subset then id; ``limit`` applies per subset."""
    if not root.is_dir():
        raise ValidationFailed(f"dataset directory {root} does not exist")
    samples: list[Sample] = []
    for name, directory in _subset_dirs(root):
        if subset is not None and name != subset:
            continue
        chosen: list[Sample] = []
        for path in sorted(directory.iterdir()):
            media_type = DOCUMENT_SUFFIXES.get(path.suffix.lower())
            label = path.with_suffix(".json")
            if media_type is None or not label.is_file():
                continue
            chosen.append(Sample(path.stem, name, path, media_type, label))
        samples.extend(chosen[:limit] if limit is not None else chosen)
    return samples


def _texts(values: object) -> tuple[str, ...]:
    if isinstance(values, str):
        return (values,) if values.strip() else ()
    if isinstance(values, list):
        return tuple(str(v) for v in values if str(v).strip())
    return ()


def load_label(sample: Sample) -> Label:
    """Read and reshape ``sample``'s label (only for scoring, after extraction)."""
    raw = json.loads(sample.label_path.read_text(encoding="utf-8"))
    if sample.subset == "sroie":
        return Label(
            company=raw.get("company") or None,
            address=raw.get("address") or None,
            dates=_texts(raw.get("date")),
            totals=_texts(raw.get("total")),
        )
    fields = raw.get("fields", {})
    address = " ".join(_texts(fields.get("Store_addr_value"))) or None
    return Label(
        address=address,
        dates=_texts(fields.get("Date_value")),
        totals=_texts(fields.get("Total_value")),
        store_names=_texts(fields.get("Store_name_value")),
        items=_texts(fields.get("Prod_item_value")),
    )
