"""CasePilot on its development set (bench/ask_dev.tsv: questions with checks verified against the
official files, see bench/ask_dev_README.md).

Each question goes through ``medcode.ask(kb, question)`` (a follow-up's two questions share a
conversation). A question is right when its answer passes every check of its row:
``code:X`` (X among the answer's codes), ``text:W`` (the answer text contains W, case-insensitive),
``number:N`` (N appears in the answer text, thousands separators ignored), ``confidence:C``.
It prints accuracy by kind and in all, the code-like strings in answers that are not codes of the
knowledge base or not among the answer's codes (invented codes: the goal is none), and the time of a
deterministic answer in-process (median and p95).

    .venv/bin/python bench/ask_bench.py [--home DIR] [--file TSV] [--misses] [--kind K]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / "bench" / "ask_dev.tsv"
CHECKS = ("code", "text", "number", "confidence")
# code-like strings: CPT/Category III/HCPCS (5 characters with a digit) and ICD-10-CM with a dot
CODE_LIKE = re.compile(r"\b(?:\d{4}[0-9FTU]|[A-V]\d{4}|[A-TV-Z]\d[0-9A-Z]\.[0-9A-Z]{1,4})\b")


class DevError(ValueError):
    pass


@dataclass(frozen=True)
class Row:
    line: int
    kind: str
    question: str
    checks: tuple[tuple[str, str], ...]


def read_rows(path: Path = DEFAULT_FILE) -> list[Row]:
    rows = []
    header = False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if not header:
            if fields != ["kind", "question", "expect", "verified"]:
                raise DevError(f"{path}:{n}: header {fields!r}")
            header = True
            continue
        if len(fields) != 4:
            raise DevError(f"{path}:{n}: {len(fields)} fields, expected 4")
        kind, question, expect, _ = fields
        checks = []
        for part in expect.split(";"):
            name, _, value = part.strip().partition(":")
            if name not in CHECKS or not value.strip():
                raise DevError(f"{path}:{n}: field expect: {part!r} is not code:/text:/number:/confidence:")
            checks.append((name, value.strip()))
        rows.append(Row(n, kind, question, tuple(checks)))
    return rows


def _norm_code(code: str) -> str:
    return code.replace(".", "").upper()


def failures(row: Row, answer: Any) -> list[str]:
    text = answer.answer.lower()
    flat = text.replace(",", "")
    codes = {_norm_code(c) for c in answer.codes}
    out = []
    for name, value in row.checks:
        if name == "code" and _norm_code(value) not in codes:
            out.append(f"code {value} not among {sorted(codes)}")
        elif name == "text" and value.lower() not in text:
            out.append(f"text {value!r} not in the answer")
        elif name == "number" and not _has_number(flat, value):
            out.append(f"number {value} not in the answer")
        elif name == "confidence" and answer.confidence != value:
            out.append(f"confidence {answer.confidence}, expected {value}")
    return out


NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?![\d])")


def _has_number(flat: str, value: str) -> bool:
    """The figure ``value`` is in the text, compared as a number (1.5 is 1.500)."""
    want = Decimal(value.replace(",", ""))
    return any(Decimal(x) == want for x in NUMBER.findall(flat))


PLACE_FAMILIES = frozenset({"zip5", "gpci", "locality"})


def invented(kb: Any, answer: Any, question: str = "") -> list[str]:
    """Code-like strings of the answer text that are no code, or that the answer does not list (a
    string the question itself wrote, repeated to say it is not a code, is not invented)."""
    from medcode.codes import UnknownCode
    from medcode.lookup import get_code

    listed = {_norm_code(c) for c in answer.codes}
    # ZIP codes and MAC numbers a locality answer states are row keys of its citations, not codes
    keys = {
        part
        for cite in answer.citations
        if cite.family in PLACE_FAMILIES
        for part in re.findall(r"\d{5}", str(cite.row or ""))
    }
    asked = {_norm_code(c) for c in CODE_LIKE.findall(question)}
    out = []
    for c in set(CODE_LIKE.findall(answer.answer)):
        if c in keys:
            continue
        refused = re.search(r"not a (?:valid )?code", answer.answer.lower())
        if _norm_code(c) in asked and _norm_code(c) not in listed and refused:
            continue
        if _norm_code(c) not in listed:
            out.append(f"{c} (not among the answer's codes)")
            continue
        try:
            get_code(kb, c)
        except UnknownCode:
            out.append(f"{c} (not a code)")
        except Exception:  # noqa: BLE001 (a code the lookup refuses is not a code either)
            out.append(f"{c} (refused)")
    return out


@dataclass
class Scored:
    by_kind: dict[str, list[bool]]
    invented: list[str]
    misses: list[str]
    seconds: list[float]


def score(kb: Any, rows: list[Row], kind: str | None = None) -> Scored:
    from medcode.assistant import ask

    by_kind: dict[str, list[bool]] = defaultdict(list)
    made: list[str] = []
    misses: list[str] = []
    seconds: list[float] = []
    for row in rows:
        if kind and row.kind != kind:
            continue
        conversation = None
        answer = None
        for q in row.question.split(" || "):
            t0 = time.perf_counter()
            answer = ask(kb, q, conversation_id=conversation)
            seconds.append(time.perf_counter() - t0)
            conversation = answer.conversation_id
        assert answer is not None
        bad = failures(row, answer)
        by_kind[row.kind].append(not bad)
        for c in invented(kb, answer, row.question):
            made.append(f"line {row.line} {row.question!r}: {c}")
        if bad:
            said = answer.answer[:300]
            misses.append(f"line {row.line} [{row.kind}] {row.question!r}: {'; '.join(bad)}\n    -> {said!r}")
    return Scored(dict(by_kind), made, misses, seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", default=os.environ.get("MEDCODE_HOME"))
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--kind")
    ap.add_argument("--misses", action="store_true")
    args = ap.parse_args()
    import medcode

    kb = medcode.open_kb(args.home)
    rows = read_rows(args.file)
    score(kb, rows[:20], args.kind)  # warm-up
    s = score(kb, rows, args.kind)
    right = total = 0
    for kind, results in sorted(s.by_kind.items()):
        right += sum(results)
        total += len(results)
        print(f"{kind:<14} {sum(results):>4}/{len(results):<4} {sum(results) / len(results):.3f}")
    print(f"{'all':<14} {right:>4}/{total:<4} {right / total:.3f}")
    print(f"invented codes: {len(s.invented)}")
    for line in s.invented[:30]:
        print("  " + line)
    ms = sorted(x * 1000 for x in s.seconds)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    print(f"ask() warm: median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms")
    if args.misses:
        for m in s.misses:
            print(m)


if __name__ == "__main__":
    main()
