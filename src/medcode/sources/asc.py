"""ASC payment addenda: AA (covered surgical procedures), BB (covered ancillary services),
DD1/DD2 (payment and comment indicator definitions), EE (procedures excluded from ASC payment)
and FF (device offset percentages)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medcode.sources.files import SourceFile, find, quarterly
from medcode.sources.layout import layouts, read_csv, to_rows

FAMILY = "asc"
_RATES = (
    "hcpcs",
    "marker",
    "description",
    "multiple_discount",
    "passthrough_expiration",
    "payment_indicator",
    "weight",
    "rate",
    "ira_copay",
    "line",
)
_TARGETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "aa": ("asc_rates", ("addendum", *_RATES)),
    "bb": ("asc_rates", ("addendum", *_RATES)),
    "dd1": ("asc_indicators", ("kind", "code", "definition")),
    "dd2": ("asc_indicators", ("kind", "code", "definition")),
    "ee": ("asc_exclusions", ("hcpcs", "description", "line")),
    "ff": (
        "asc_device_offsets",
        (
            "hcpcs",
            "marker",
            "description",
            "payment_indicator",
            "apc",
            "apc_offset_pct",
            "opps_rate",
            "offset_pct",
            "offset_amount",
            "line",
        ),
    ),
}
_DEFAULTS = {"multiple_discount": "", "passthrough_expiration": "", "ira_copay": None}


def discover(root: Path) -> list[SourceFile]:
    out = []
    for path in find(root, r".*ASC-(AA|BB|DD1|DD2|EE|FF)\.csv"):
        m = re.search(r"ASC-(AA|BB|DD1|DD2|EE|FF)\.csv$", path.name, re.IGNORECASE)
        assert m is not None
        out.append(quarterly(FAMILY, path, m.group(1).lower()))
    return out


def target(sf: SourceFile) -> tuple[str, tuple[str, ...]]:
    return _TARGETS[sf.layout]


def parse(sf: SourceFile) -> Iterator[tuple[Any, ...]]:
    records = read_csv(sf.path, layouts(FAMILY)[sf.layout])
    extra = {
        "aa": {"addendum": "AA"},
        "bb": {"addendum": "BB"},
        "dd1": {"kind": "payment"},
        "dd2": {"kind": "comment"},
    }.get(sf.layout, {})
    return to_rows(records, target(sf)[1], defaults={**_DEFAULTS, **extra})
