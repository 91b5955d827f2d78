"""Case2Code diagnoses measured on CodiEsp (CLEF eHealth 2020; CC BY 4.0, Miranda-Escalada et al.).

Trains the diagnosis model on train and evaluates on dev (or, with --cv, 5-fold over train+dev):
document-level micro precision, recall and F1 on exact codes and on 3-character categories, the share
of emitted codes that do not exist or are not billable in the knowledge base's ICD-10-CM, seconds per
note (the whole ``diagnose`` call, warm) and the training time. --sweep prints F1 by threshold.

    MEDCODE_HOME=/work/testhome .venv/bin/python bench/codiesp_bench.py [--cv] [--sweep] [--data DIR]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from pathlib import Path

from medcode import settings
from medcode.kb.store import KnowledgeBase, open_kb
from medcode.suggest import diagnoses
from medcode.suggest.concepts import concepts
from medcode.suggest.learned import Corpus, Learned, fit, read_split


def prf(pred: Sequence[set[str]], gold: Sequence[set[str]]) -> tuple[float, float, float]:
    tp = sum(len(p & g) for p, g in zip(pred, gold, strict=True))
    n_pred, n_gold = sum(map(len, pred)), sum(map(len, gold))
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def category(codes: set[str]) -> set[str]:
    return {c[:3] for c in codes}


def run(kb: KnowledgeBase, model: Learned, texts: list[str]) -> tuple[list[list[tuple[str, float]]], float]:
    out = []
    diagnoses.diagnose(kb, texts[0], model=model)  # warm
    started = time.perf_counter()
    for text in texts:
        out.append([(c.code, c.score) for c in diagnoses.diagnose(kb, text, model=model, include_all=True)])
    return out, (time.perf_counter() - started) / len(texts)


def emitted(scored: list[list[tuple[str, float]]], threshold: float) -> list[set[str]]:
    return [{c for c, s in items[: diagnoses.MAX_RECOMMENDED] if s >= threshold} for items in scored]


def report(
    kb: KnowledgeBase, name: str, scored: list[list[tuple[str, float]]], gold: list[set[str]], sweep: bool
) -> None:
    table = concepts(kb)
    pred = emitted(scored, diagnoses.THRESHOLD)
    n = sum(map(len, pred))
    bad = sum(1 for p in pred for c in p if c not in table.codes or not table.codes[c].billable)
    mapped = [{table.billable(c) or c for c in g} for g in gold]
    print(f"{name}: {len(gold)} notes, {n} codes emitted ({n / len(gold):.1f} a note), {sum(map(len, gold))} gold")
    for label, (p, r, f) in (
        ("exact codes", prf(pred, gold)),
        ("3-char categories", prf([category(x) for x in pred], [category(g) for g in gold])),
        ("exact, gold mapped to 2026", prf(pred, mapped)),
    ):
        print(f"  {label:28s} P {p:.3f}  R {r:.3f}  F1 {f:.3f}")
    print(f"  emitted codes not existing or not billable: {bad} of {n} ({bad / max(n, 1):.1%})")
    if sweep:
        for t in [x / 100 for x in range(10, 42, 2)]:
            p, r, f = prf(emitted(scored, t), gold)
            print(f"    threshold {t:.2f}: P {p:.3f} R {r:.3f} F1 {f:.3f}")


def absent(kb: KnowledgeBase, name: str, corpus: Corpus) -> None:
    table = concepts(kb)
    codes = [c for g in corpus.labels for c in g]
    missing = [c for c in codes if c not in table.codes]
    header = [c for c in codes if c in table.codes and not table.codes[c].billable]
    print(
        f"{name} gold: {len(codes)} codes ({len(set(codes))} distinct); not in ICD-10-CM 2026: {len(missing)} "
        f"({len(set(missing))} distinct); not billable in 2026: {len(header)} ({len(set(header))} distinct)"
    )


def whole(kb: KnowledgeBase, model: Learned, dev: Corpus) -> None:
    """The diagnoses of the whole pipeline (``medcode.suggest``: coding rules, symptoms, order)."""
    from medcode.suggest import suggest

    kb.memo["suggest.learned"] = model  # the model just trained (no cache written into MEDCODE_HOME)
    suggest(kb, dev.texts[0])
    started = time.perf_counter()
    pred = [{d.code for d in suggest(kb, text).diagnoses} for text in dev.texts]
    seconds = (time.perf_counter() - started) / len(dev.texts)
    table = concepts(kb)
    n = sum(map(len, pred))
    bad = sum(1 for p in pred for c in p if c not in table.codes or not table.codes[c].billable)
    print(f"medcode.suggest on dev: {n} diagnoses ({n / len(pred):.1f} a note), {bad} not existing or not billable")
    for label, (p, r, f) in (
        ("exact codes", prf(pred, dev.labels)),
        ("3-char categories", prf([category(x) for x in pred], [category(g) for g in dev.labels])),
    ):
        print(f"  {label:28s} P {p:.3f}  R {r:.3f}  F1 {f:.3f}")
    print(f"  seconds a note (whole suggest call, warm): {seconds:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="directory holding codiesp/ (default MEDCODE_DATA)")
    parser.add_argument("--cv", action="store_true", help="5-fold cross-validation over train+dev")
    parser.add_argument("--sweep", action="store_true", help="F1 by threshold")
    parser.add_argument("--suggest", action="store_true", help="also measure the whole medcode.suggest call on dev")
    args = parser.parse_args()
    conf = settings.load()
    root = (args.data or conf.data or Path(".")) / "codiesp"
    kb = open_kb(conf.home)
    table = concepts(kb)
    train, dev = read_split(root, "train"), read_split(root, "dev")
    absent(kb, "train", train)
    absent(kb, "dev", dev)

    def matcher(text: str) -> dict[str, int]:
        return diagnoses.matched(table, text)

    if not args.cv:
        model = fit(train.texts, train.labels, matcher)
        print(f"training: {model.train_seconds:.1f} s, {len(model.codes)} codes with a classifier")
        scored, seconds = run(kb, model, dev.texts)
        report(kb, "dev", scored, dev.labels, args.sweep)
        print(f"  seconds a note (diagnose, warm): {seconds:.4f}")
        if args.suggest:
            whole(kb, model, dev)
        return
    texts, labels = train.texts + dev.texts, train.labels + dev.labels
    order = list(range(len(texts)))
    random.Random(13).shuffle(order)
    scored_all: list[list[tuple[str, float]]] = [[] for _ in texts]
    for k in range(5):
        held = set(order[k::5])
        model = fit(
            [t for i, t in enumerate(texts) if i not in held],
            [g for i, g in enumerate(labels) if i not in held],
            matcher,
        )
        ids = sorted(held)
        scored, seconds = run(kb, model, [texts[i] for i in ids])
        for i, s in zip(ids, scored, strict=True):
            scored_all[i] = s
        print(f"fold {k + 1}: training {model.train_seconds:.1f} s, {seconds:.4f} s a note")
    report(kb, "5-fold train+dev", scored_all, labels, args.sweep)


if __name__ == "__main__":
    main()
