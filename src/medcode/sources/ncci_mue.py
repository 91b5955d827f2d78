"""NCCI Medically Unlikely Edits for practitioner services: units per code, adjudication
indicator (MAI 1 line edit, 2 date-of-service policy edit, 3 date-of-service clinical edit)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from medcode.sources.files import SourceFile, find, quarter_span
from medcode.sources.layout import LayoutMismatch, layouts, read_csv

FAMILY = "mue_practitioner"
TABLE = "mue_limits"
COLUMNS = ("hcpcs", "units", "mai", "mai_label", "rationale", "line")


def discover(root: Path) -> list[SourceFile]:
    out = []
    for path in find(root, r"MCR_MUE_PractitionerServices_Eff_\d\d-\d\d-\d{4}\.csv"):
        m = re.search(r"Eff_(\d\d)-(\d\d)-(\d{4})", path.name)
        assert m is not None
        eff = date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
        quarter = (eff.month - 1) // 3 + 1
        _, end = quarter_span(eff.year, quarter)
        out.append(SourceFile(FAMILY, path, f"{eff.year}Q{quarter}", "practitioner", eff, end))
    return out


def parse(sf: SourceFile) -> Iterator[tuple[Any, ...]]:
    for rec in read_csv(sf.path, layouts("mue")[sf.layout]):
        v = rec.values
        mai = v["mai_label"][:1]
        if mai not in ("1", "2", "3"):
            raise LayoutMismatch(
                sf.path, rec.line, "3 (MUE Adjudication Indicator)", f"{v['mai_label']!r} does not start with 1, 2 or 3"
            )
        yield (v["hcpcs"], v["units"], mai, v["mai_label"], v["rationale"], rec.line)
