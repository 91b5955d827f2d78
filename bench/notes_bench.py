"""Case2Code on the US encounter notes (tests/data/notes/*.txt against tests/data/notes/gold.tsv).

Runs ``medcode.suggest.suggest(kb, text)`` on every note and prints micro precision, recall and F1 for
diagnoses and for procedures (exact codes, dots and case ignored), the first-listed diagnosis accuracy,
the modifier accuracy (on procedure codes found in both the gold and the suggestion: same set of
modifiers) and the seconds per note.

    .venv/bin/python bench/notes_bench.py [--home DIR] [--dir DIR] [--misses] [--setting office|facility]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import medcode

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "notes"


@dataclass
class Gold:
    diagnoses: list[str] = field(default_factory=list)  # in rank order
    procedures: dict[str, frozenset[str]] = field(default_factory=dict)  # code -> modifiers


@dataclass(frozen=True)
class Result:
    note: str
    gold: Gold
    diagnoses: list[str]
    procedures: dict[str, frozenset[str]]
    seconds: float


def compact(code: str) -> str:
    return code.replace(".", "").strip().upper()


def load_gold(path: Path) -> dict[str, Gold]:
    """gold.tsv: note, kind (D|P), rank, code, modifiers; errors name the file, line and field."""
    ranked: dict[str, list[tuple[int, str]]] = defaultdict(list)
    gold: dict[str, Gold] = defaultdict(Gold)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 5:
            sys.exit(
                f"{path}:{n}: expected 5 tab-separated fields (note, kind, rank, code, modifiers), found {len(fields)}"
            )
        note, kind, rank, code, mods = fields
        if not note.strip():
            sys.exit(f"{path}:{n}: field note is empty")
        if kind not in ("D", "P"):
            sys.exit(f"{path}:{n}: field kind: {kind!r} is not D or P")
        if not rank.isdigit() or int(rank) < 1:
            sys.exit(f"{path}:{n}: field rank: {rank!r} is not a positive integer")
        if not code.strip():
            sys.exit(f"{path}:{n}: field code is empty")
        note = note.strip().removesuffix(".txt")
        if kind == "D":
            ranked[note].append((int(rank), compact(code)))
        else:
            gold[note].procedures[compact(code)] = frozenset(m.strip().upper() for m in mods.split(",") if m.strip())
    for note, items in ranked.items():
        gold[note].diagnoses = [c for _, c in sorted(items)]
    return dict(gold)


def load_suggest() -> Any:
    try:
        from medcode.suggest import suggest
    except ImportError as e:
        sys.exit(f"medcode.suggest is not available yet ({e}); this bench needs suggest(kb, text)")
    return suggest


def items(payload: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = payload.get(key)
    if not isinstance(value, list):
        sys.exit(f"suggest(...).as_json() has no {key!r} list; got keys {sorted(payload)}")
    return value


def run(kb: medcode.KnowledgeBase, folder: Path, gold: dict[str, Gold], setting: str | None) -> list[Result]:
    suggest = load_suggest()
    notes = sorted(folder.glob("*.txt"))
    names = {p.stem for p in notes}
    missing = sorted(set(gold) - names)
    if missing:
        sys.exit(f"{folder / 'gold.tsv'}: gold for notes that do not exist: {', '.join(missing)}")
    ungraded = sorted(names - set(gold))
    if ungraded:
        print(f"note: no gold for {', '.join(ungraded)} (skipped)")
    out: list[Result] = []
    for path in notes:
        if path.stem not in gold:
            continue
        text = path.read_text(encoding="utf-8")
        t = time.perf_counter()
        try:
            suggestion = suggest(kb, text, setting=setting)
        except NotImplementedError as e:
            sys.exit(f"medcode.suggest is not implemented yet: {e}")
        seconds = time.perf_counter() - t
        payload = suggestion.as_json()
        dx = [compact(str(i["code"])) for i in items(payload, "diagnoses")]
        px: dict[str, frozenset[str]] = {}
        for i in items(payload, "procedures"):
            px.setdefault(compact(str(i["code"])), frozenset(str(m).upper() for m in i.get("modifiers") or ()))
        out.append(Result(path.stem, gold[path.stem], dx, px, seconds))
    return out


def prf(tp: int, emitted: int, expected: int) -> str:
    p = tp / emitted if emitted else 0.0
    r = tp / expected if expected else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return f"precision={p:.3f} recall={r:.3f} F1={f:.3f} (tp={tp} emitted={emitted} gold={expected})"


def report(results: list[Result]) -> None:
    dx_tp = sum(len(set(r.diagnoses) & set(r.gold.diagnoses)) for r in results)
    dx_emitted = sum(len(set(r.diagnoses)) for r in results)
    dx_gold = sum(len(set(r.gold.diagnoses)) for r in results)
    px_tp = sum(len(set(r.procedures) & set(r.gold.procedures)) for r in results)
    px_emitted = sum(len(r.procedures) for r in results)
    px_gold = sum(len(r.gold.procedures) for r in results)
    print(f"notes: {len(results)}")
    print(f"diagnoses:  {prf(dx_tp, dx_emitted, dx_gold)}")
    print(f"procedures: {prf(px_tp, px_emitted, px_gold)}")
    with_dx = [r for r in results if r.gold.diagnoses]
    first = sum(bool(r.diagnoses) and r.diagnoses[0] == r.gold.diagnoses[0] for r in with_dx)
    print(f"first-listed diagnosis: {first}/{len(with_dx)} = {first / len(with_dx) if with_dx else 0:.3f}")
    pairs = [(r.procedures[c], m) for r in results for c, m in r.gold.procedures.items() if c in r.procedures]
    with_mods = [(got, want) for got, want in pairs if want]
    right = sum(got == want for got, want in pairs)
    right_mods = sum(got == want for got, want in with_mods)
    print(
        f"modifiers (on {len(pairs)} matched procedure codes): {right}/{len(pairs)} = "
        f"{right / len(pairs) if pairs else 0:.3f}; where the gold has modifiers: {right_mods}/{len(with_mods)}"
    )
    secs = [r.seconds for r in results]
    print(
        f"seconds per note: mean={statistics.mean(secs):.3f} median={statistics.median(secs):.3f} "
        f"max={max(secs):.3f} (first note, cold: {secs[0]:.3f})"
    )


def misses(results: list[Result]) -> None:
    print("per note (missing = in gold, not suggested; extra = suggested, not in gold):")
    for r in results:
        gd, sd = set(r.gold.diagnoses), set(r.diagnoses)
        gp, sp = set(r.gold.procedures), set(r.procedures)
        mods = [
            f"{c} {','.join(sorted(r.procedures[c])) or '-'} (gold {','.join(sorted(m)) or '-'})"
            for c, m in r.gold.procedures.items()
            if c in r.procedures and r.procedures[c] != m
        ]
        first_ok = bool(r.diagnoses) and bool(r.gold.diagnoses) and r.diagnoses[0] == r.gold.diagnoses[0]
        if gd == sd and gp == sp and not mods and first_ok:
            continue
        print(f"  {r.note}:")
        if gd - sd or sd - gd:
            print(f"    dx missing {sorted(gd - sd)} extra {sorted(sd - gd)}")
        if not first_ok:
            print(f"    first-listed {r.diagnoses[:1]} (gold {r.gold.diagnoses[:1]})")
        if gp - sp or sp - gp:
            print(f"    px missing {sorted(gp - sp)} extra {sorted(sp - gp)}")
        if mods:
            print(f"    modifiers {'; '.join(mods)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", help="MEDCODE_HOME of the knowledge base (default: the MEDCODE_HOME setting)")
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="folder with NN-slug.txt notes and gold.tsv")
    ap.add_argument("--misses", action="store_true", help="print per-note differences from the gold")
    ap.add_argument("--setting", choices=("office", "facility"), help="passed to suggest")
    args = ap.parse_args()
    gold_path = args.dir / "gold.tsv"
    if not gold_path.is_file():
        sys.exit(f"{gold_path}: not found")
    gold = load_gold(gold_path)
    kb = medcode.open_kb(args.home)
    results = run(kb, args.dir, gold, args.setting)
    if not results:
        sys.exit(f"{args.dir}: no notes with gold")
    report(results)
    if args.misses:
        misses(results)


if __name__ == "__main__":
    main()
