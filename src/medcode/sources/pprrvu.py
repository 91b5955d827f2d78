"""PFS Relative Value File (PPRRVU): RVUs, indicators and conversion factor per HCPCS and modifier.

2026 comes as fixed-width text (with the new QPP indicator); 2025 as CSV with banner lines and a
stacked header. The release is the PFS quarterly bundle (RVU25A = January 2025, RVU25D = October
2025, RVU26B = April 2026), read from the folder name or, failing that, from the file name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medcode.sources.files import (
    MONTH_QUARTER,
    SourceFile,
    find,
    full_year,
    pfs_bundle,
    quarter_span,
)
from medcode.sources.layout import layouts, read_csv, read_fixed, to_rows

FAMILY = "pprrvu"
TABLE = "rvus"
COLUMNS = (
    "hcpcs",
    "modifier",
    "line",
    "description",
    "status",
    "not_used_for_medicare",
    "work",
    "pe_nonfacility",
    "pe_nonfacility_na",
    "pe_facility",
    "pe_facility_na",
    "mp",
    "total_nonfacility",
    "total_facility",
    "pctc",
    "global_days",
    "preop",
    "intraop",
    "postop",
    "mult_proc",
    "bilateral",
    "assistant",
    "co_surgeon",
    "team",
    "qpp",
    "endo_base",
    "conversion_factor",
    "phys_supervision",
    "calc_flag",
    "diag_imaging_family",
    "opps_pe_nonfacility",
    "opps_pe_facility",
    "opps_mp",
)
_NAME = re.compile(r"PPRRVU(\d{2}|\d{4})_(jan|apr|jul|oct)\w*", re.IGNORECASE)


def discover(root: Path) -> list[SourceFile]:
    out = []
    for path in find(root, r"PPRRVU.*\.(txt|csv)"):
        m = _NAME.match(path.stem)
        bundle = pfs_bundle(path)
        if bundle is None and m is None:
            raise ValueError(f"{path}: cannot tell which PFS release this file belongs to")
        if bundle is None:
            assert m is not None
            year, quarter = full_year(m.group(1)), MONTH_QUARTER[m.group(2).lower()]
            start, end = quarter_span(year, quarter)
            bundle = (f"RVU{year % 100:02d}{'ABCD'[quarter - 1]}", start, end)
        release, start, end = bundle
        layout = "fixed_2026" if path.suffix.lower() == ".txt" else "csv_2025"
        out.append(SourceFile(FAMILY, path, release, layout, start, end))
    return out


def parse(sf: SourceFile) -> Iterator[tuple[Any, ...]]:
    layout = layouts(FAMILY)[sf.layout]
    records = read_fixed(sf.path, layout) if layout.format == "fixed" else read_csv(sf.path, layout)
    return to_rows(records, COLUMNS, defaults={"qpp": ""})
