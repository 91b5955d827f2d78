"""The documentation audit on the hand-labelled notes (tests/data/audit/notes/*.txt against
tests/data/audit/labels*.tsv).

For every note, ``medcode.audit(kb, text, codes)`` runs on the note's billed codes (its distinct codes in
label order). It prints:
- element-level precision, recall and F1, where a positive is an element judged present: true positive
  when gold and audit both say present;
- the share of elements whose status (present, missing, negated, uncertain) is exactly right;
- verdict accuracy: the share of codes whose supported / not supported verdict is right;
- E/M: the MDM level and the supported code, right or wrong;
- every figure by family;
- seconds per audit, warm (the median and p95 of repeated in-process calls on each note) and, with
  --command, the whole `medcode audit` command on the longest note.

    .venv/bin/python bench/audit_bench.py [--home DIR] [--dir DIR] [--misses] [--command]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "tests" / "data" / "audit"
STATUSES = ("present", "missing", "negated", "uncertain")
SPECIAL = {"_supported": ("yes", "no"), "_mdm": ("straightforward", "low", "moderate", "high"), "_supported_code": None}


class LabelError(ValueError):
    pass


@dataclass
class Billed:
    code: str  # as billed, with modifiers ("20610-RT")
    elements: dict[str, str] = field(default_factory=dict)
    special: dict[str, str] = field(default_factory=dict)


def read_labels(directory: Path) -> dict[str, dict[str, Billed]]:
    """note -> billed code (as written) -> its labels, from every labels*.tsv; errors name file, line, field."""
    out: dict[str, dict[str, Billed]] = {}
    files = sorted(directory.glob("labels*.tsv"))
    if not files:
        raise LabelError(f"{directory}: no labels*.tsv")
    for path in files:
        header_seen = False
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = [f.strip() for f in line.split("\t")]
            if not header_seen:
                if fields != ["note", "code", "element", "expected"]:
                    raise LabelError(f"{path}:{n}: header {fields!r}, expected note, code, element, expected")
                header_seen = True
                continue
            if len(fields) != 4:
                raise LabelError(f"{path}:{n}: {len(fields)} fields, expected 4 (note, code, element, expected)")
            note, code, element, expected = fields
            for name, value in zip(("note", "code", "element", "expected"), fields, strict=True):
                if not value:
                    raise LabelError(f"{path}:{n}: field {name} is empty")
            note = note.removesuffix(".txt")
            if not (directory / "notes" / f"{note}.txt").is_file():
                raise LabelError(f"{path}:{n}: field note: no file notes/{note}.txt")
            billed = out.setdefault(note, {}).setdefault(code, Billed(code))
            if element in SPECIAL:
                allowed = SPECIAL[element]
                if allowed is not None and expected not in allowed:
                    raise LabelError(f"{path}:{n}: field expected: {expected!r} is not one of {', '.join(allowed)}")
                billed.special[element] = expected
            else:
                if expected not in STATUSES:
                    raise LabelError(f"{path}:{n}: field expected: {expected!r} is not one of {', '.join(STATUSES)}")
                if element in billed.elements:
                    raise LabelError(f"{path}:{n}: field element: {element!r} labelled twice for {code}")
                billed.elements[element] = expected
    return out


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    status_right: int = 0
    elements: int = 0
    verdict_right: int = 0
    verdicts: int = 0
    unlabelled: int = 0  # elements the audit reported that the labels do not name

    def add(self, other: Tally) -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@dataclass
class Scored:
    by_family: dict[str, Tally]
    total: Tally
    em_mdm: list[bool]
    em_code: list[bool]
    misses: list[str]
    seconds: list[float]


def score(kb: Any, directory: Path = DEFAULT_DIR, repeat: int = 1) -> Scored:
    from medcode.audit import audit

    labels = read_labels(directory)
    by_family: dict[str, Tally] = defaultdict(Tally)
    total = Tally()
    em_mdm: list[bool] = []
    em_code: list[bool] = []
    misses: list[str] = []
    seconds: list[float] = []
    for note, billed in sorted(labels.items()):
        text = (directory / "notes" / f"{note}.txt").read_text(encoding="utf-8")
        codes = list(billed)
        answer = None
        for _ in range(repeat):
            t0 = time.perf_counter()
            answer = audit(kb, text, codes)
            seconds.append(time.perf_counter() - t0)
        assert answer is not None
        if len(answer.codes) != len(codes):
            raise AssertionError(f"{note}: {len(codes)} codes billed, {len(answer.codes)} audited")
        for gold, got in zip(billed.values(), answer.codes, strict=True):
            t = Tally()
            statuses = {e.id: e.status for e in got.elements}
            for element, expected in gold.elements.items():
                status = statuses.get(element, "(not reported)")
                t.elements += 1
                t.status_right += status == expected
                t.tp += expected == "present" and status == "present"
                t.fp += expected != "present" and status == "present"
                t.fn += expected == "present" and status != "present"
                if status != expected:
                    misses.append(f"{note} {gold.code} {element}: expected {expected}, got {status}")
            t.unlabelled += len(set(statuses) - set(gold.elements))
            if "_supported" in gold.special:
                t.verdicts += 1
                right = got.supported == (gold.special["_supported"] == "yes")
                t.verdict_right += right
                if not right:
                    misses.append(
                        f"{note} {gold.code} verdict: expected {gold.special['_supported']}, got "
                        f"{'yes' if got.supported else 'no'} ({got.summary})"
                    )
            if got.level is not None and "_mdm" in gold.special:
                em_mdm.append(got.level.mdm == gold.special["_mdm"])
                if not em_mdm[-1]:
                    misses.append(f"{note} {gold.code} mdm: expected {gold.special['_mdm']}, got {got.level.mdm}")
            if "_supported_code" in gold.special:
                want = gold.special["_supported_code"]
                have = (got.level.supported_code if got.level else None) or "none"
                em_code.append(have == want)
                if have != want:
                    misses.append(f"{note} {gold.code} supported code: expected {want}, got {have}")
            by_family[got.family or "generic"].add(t)
            total.add(t)
    return Scored(dict(by_family), total, em_mdm, em_code, misses, seconds)


def _line(name: str, t: Tally) -> str:
    p, r, f = t.prf()
    status = t.status_right / t.elements if t.elements else 0.0
    verdict = t.verdict_right / t.verdicts if t.verdicts else 0.0
    return (
        f"{name:<16} elements {t.elements:>4}  P {p:.3f}  R {r:.3f}  F1 {f:.3f}  status {status:.3f}  "
        f"verdicts {t.verdicts:>3}  right {verdict:.3f}"
    )


def _command(home: str, directory: Path) -> float:
    notes = sorted((directory / "notes").glob("*.txt"), key=lambda p: len(p.read_bytes()))
    longest = notes[-1]
    labels = read_labels(directory)[longest.stem]
    args = [sys.executable, "-m", "medcode.cli", "audit", str(longest)]
    for code in labels:
        args += ["--code", code]
    env = {**os.environ, "MEDCODE_HOME": home}
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(args, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    print(
        f"whole `medcode audit` on the longest note ({len(longest.read_text().split())} words): "
        f"median {statistics.median(times):.2f} s of 3"
    )
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", default=os.environ.get("MEDCODE_HOME"))
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--misses", action="store_true")
    ap.add_argument("--command", action="store_true")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import medcode

    kb = medcode.open_kb(args.home)
    s = score(kb, args.dir, repeat=1)  # warm-up: loads the catalogue and the language layer
    s = score(kb, args.dir, repeat=args.repeat)
    notes = len(read_labels(args.dir))
    print(f"{notes} notes, {s.total.elements} labelled elements, {s.total.verdicts} labelled verdicts")
    for name, t in sorted(s.by_family.items()):
        print(_line(name, t))
    print(_line("all", s.total))
    if s.em_mdm:
        print(f"E/M MDM level right {sum(s.em_mdm)}/{len(s.em_mdm)}")
    if s.em_code:
        print(f"E/M supported code right {sum(s.em_code)}/{len(s.em_code)}")
    print(f"elements reported but not labelled: {s.total.unlabelled}")
    ms = sorted(x * 1000 for x in s.seconds)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    print(f"audit() warm: median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms")
    if args.command:
        home = args.home or os.environ.get("MEDCODE_HOME") or str(Path.home() / ".medcode")
        _command(home, args.dir)
    if args.misses:
        for m in s.misses:
            print(m)


if __name__ == "__main__":
    main()
