"""``ExtractorConfig``: the configuration contract between receiptcore and an extractor plugin.

Exported to plugin authors as ``receiptcore.plugins.ExtractorConfig`` (import it from there). The composition root
builds one for the selected extractor from the settings and the plugin's own environment variables; no other
configuration reaches a plugin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType

from receiptcore.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class ExtractorConfig:
    """What receiptcore hands an extractor plugin's factory, as ``factory(config=ExtractorConfig(...))``.

    Attributes:
        name: the entry point name the plugin was selected by (``RECEIPTCORE_EXTRACTOR``).
        options: the plugin's own options: every ``RECEIPTCORE_EXTRACTOR_<NAME>_<OPTION>`` environment variable
            (NAME upper-cased, ``-`` written ``_``), keyed by OPTION in lower case, values as strings. Read them
            with ``option``, ``int_option``, ``float_option`` or ``decimal_option``; a bad value is one
            ``ConfigurationError`` naming the variable. Not shown in ``repr`` (options may hold API keys).
        data_dir: the install's data directory, for files the plugin keeps (name them after the plugin); None
            in the memory profile, where nothing is written to disk.
        concurrency: receipts this process extracts at once; size thread or process pools to it.
        timeout_seconds: the longest one call to a remote service should take.
        daily_spend_cap_usd: the most USD the install's paid extractors may spend per UTC day (None: no cap).
    """

    name: str
    options: Mapping[str, str] = field(default_factory=dict, repr=False)
    data_dir: Path | None = None
    concurrency: int = 1
    timeout_seconds: float = 120.0
    daily_spend_cap_usd: Decimal | None = None

    def __post_init__(self) -> None:
        # frozen all the way down: a plugin cannot change what another component reads
        object.__setattr__(self, "options", MappingProxyType({k.lower(): v for k, v in self.options.items()}))

    def variable(self, key: str) -> str:
        """The environment variable that sets option ``key`` (for messages)."""
        return f"RECEIPTCORE_EXTRACTOR_{self.name.upper().replace('-', '_')}_{key.upper()}"

    def option(self, key: str, default: str | None = None) -> str | None:
        """Option ``key`` as set (surrounding blanks removed), or ``default`` when unset or empty."""
        value = self.options.get(key.lower(), "").strip()
        return value or default

    def int_option(self, key: str, default: int) -> int:
        """Option ``key`` as an integer. Raises ConfigurationError naming the variable when it is not one."""
        value = self.option(key)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise ConfigurationError(f"{self.variable(key)}={value!r} is not an integer") from None

    def float_option(self, key: str, default: float) -> float:
        """Option ``key`` as a finite number. Raises ConfigurationError naming the variable when it is not one."""
        value = self.option(key)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ConfigurationError(f"{self.variable(key)}={value!r} is not a number")
        return number

    def decimal_option(self, key: str, default: Decimal) -> Decimal:
        """Option ``key`` as a Decimal (money). Raises ConfigurationError naming the variable when it is not one."""
        value = self.option(key)
        if value is None:
            return default
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ConfigurationError(f"{self.variable(key)}={value!r} is not a decimal number") from None
        if not number.is_finite():
            raise ConfigurationError(f"{self.variable(key)}={value!r} is not a decimal number")
        return number
