"""Procedure rules for endoscopy (technique at the scope), wound repair (summed length and site) and
drug-delivery devices (site and manual preparation); data in ``vocab/endoscopy.tsv``,
``vocab/laceration_repair.tsv`` and ``vocab/laceration_sites.tsv``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from medcode.language.note import Note
from medcode.suggest.families import PLAN_SECTIONS, Findings, Found, _ctx, _doing, _ev, _find, _sent_ev
from medcode.suggest.model import Evidence
from medcode.vocab.tsv import read

# --- endoscopy: colonoscopy, EGD -------------------------------------------------------------


@cache
def _endoscopy() -> dict[str, list[tuple[str, str, re.Pattern[str]]]]:
    out: dict[str, list[tuple[str, str, re.Pattern[str]]]] = {}
    for r in read("endoscopy.tsv", ("family", "technique", "code", "pattern")):
        out.setdefault(r["family"], []).append((r["technique"], r["code"], re.compile(rf"(?:{r['pattern']})")))
    return out


def endoscopy_techniques(family: str) -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    """(technique, code, pattern) of an endoscopy family (``vocab/endoscopy.tsv``), the scope row first."""
    return tuple(_endoscopy()[family])


_SCREENING = re.compile(r"\bscreening\b")
_HIGH_RISK = re.compile(
    r"family history of colon|personal history of (?:colon|adenom|polyp)|history of (?:adenomatous )?polyps|"
    r"inflammatory bowel|ulcerative colitis|crohn"
)


def endoscopy(note: Note, out: Findings) -> None:
    families = _endoscopy()
    current: str | None = None
    per_family: dict[str, dict[str, tuple[str, Evidence]]] = {}
    scope_ev: dict[str, Evidence] = {}
    for i, s in enumerate(note.sentences):
        low = s.text.lower()
        if s.section in PLAN_SECTIONS and s.section != "indications":
            continue
        for fam, rows in families.items():
            m = rows[0][2].search(low)
            if m and rows[0][0] == "scope" and s.section not in PLAN_SECTIONS:
                c = _ctx(note, s, m)
                if not (c.negated or c.hypothetical or c.historical):
                    current = fam
                    scope_ev.setdefault(fam, _ev(note, s.start + m.start(), s.start + m.end()))
        if current is None or s.section == "indications":
            continue
        for technique, code, pattern in families[current][1:]:
            for m in _find(pattern, note, s):
                per_family.setdefault(current, {}).setdefault(
                    technique, (code, _ev(note, s.start + m.start(), s.start + m.end()))
                )
                out.used.add(i)
                break
        if families[current][0][2].search(low):
            out.used.add(i)
    text = note.text.lower()
    for fam, ev in scope_ev.items():
        done = per_family.get(fam, {})
        screening = fam == "colonoscopy" and bool(_SCREENING.search(text))
        if not done:
            code, why = families[fam][0][1], f"Diagnostic {fam}: no biopsy, removal or other technique documented."
            if screening:
                high = any(True for s in note.sentences for _ in _find(_HIGH_RISK, note, s))
                code = "G0105" if high else "G0121"
                risk = "high risk" if high else "not high risk"
                why = f"Screening colonoscopy ({risk}), no intervention (Medicare code)."
                out.notices.append(
                    f"Screening colonoscopy coded {code} (Medicare); other payers: 45378 with modifier 33."
                )
            out.codes.append(Found(code, 0.85, (ev,), why, family=fam))
            continue
        for technique, (code, tev) in done.items():
            mods = ("PT",) if screening else ()
            why = f"{fam.upper() if fam == 'egd' else fam.capitalize()} with {technique.replace('_', ' ')}."
            out.codes.append(Found(code, 0.85, (ev, tev), why, family=fam, modifiers=mods))
        if screening:
            out.notices.append(
                "Screening colonoscopy that became therapeutic: modifier PT (Medicare; 33 for other payers)."
            )


# --- wound repair ------------------------------------------------------------------------------


@cache
def _repairs() -> tuple[
    dict[tuple[str, str], list[tuple[float, float, str, str]]], list[tuple[re.Pattern[str], dict[str, str]]]
]:
    table: dict[tuple[str, str], list[tuple[float, float, str, str]]] = {}
    for r in read("laceration_repair.tsv", ("kind", "group", "code", "from_cm", "to_cm?", "addon?")):
        top = float(r["to_cm"]) if r["to_cm"] else float("inf")
        table.setdefault((r["kind"], r["group"]), []).append((float(r["from_cm"]), top, r["code"], r["addon"]))
    sites = [
        (re.compile(rf"\b(?:{r['site']})\b"), {k: r[k] for k in ("simple", "intermediate", "complex", "excision")})
        for r in read("laceration_sites.tsv", ("site", "simple", "intermediate", "complex", "excision"))
    ]
    return table, sites


_WOUND = re.compile(r"lacerat\w*|\bwound\w*|\bcut\b")
_CLOSED = re.compile(
    r"repair\w*|sutur\w*|closed|closure|staple\w*|dermabond|tissue adhesive|steri-?strips?|approximated"
)
_LENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*(?:-\s*)?(cm|centimeters?|mm|millimeters?)\b")
_ADHESIVE_ONLY = re.compile(r"dermabond|tissue adhesive|skin adhesive|skin glue")
_STITCHES = re.compile(r"sutur\w*|staple\w*|nylon|prolene|vicryl|monocryl|ethilon|chromic")
# The audit's wider reading (``wound_repairs_in(wide=True)``).
_WOUND_WIDE = re.compile(
    r"lacerat\w*|\blacs?\b|\bwound\w*|\bcut\b|\blength\b|\blong\b|\bdefect\b|avulsion|\bflap\b|^\s*size\b|measur\w*"
)
_CLOSED_WIDE = re.compile(_CLOSED.pattern + "|" + _STITCHES.pattern + r"|\bpds\b|\bsilk\b|\d-0\b")
_NOT_NOW = frozenset({"plan", "instructions", "past_history", "family_history", "medications"})
_COMPLEX = re.compile(
    r"\bcomplex (?:repair|closure|layered)|extensive(?:ly)? undermin\w*|debridement of (?:the )?wound edges|"
    r"retention sutures"
)
_INTERMEDIATE = re.compile(
    r"layered closure|\blayered\b|intermediate|deep (?:dermal |subcutaneous )?sutures|subcutaneous (?:tissue )?"
    r"(?:was |were )?(?:closed|approximated)|subcuticular|two[- ]layer|deep layer|extensive cleaning"
)
_SIMPLE = re.compile(r"\bsimple\b|single layer")
# The words that state each kind of repair, the most extensive first.
REPAIR_KINDS = (("complex", _COMPLEX), ("intermediate", _INTERMEDIATE), ("simple", _SIMPLE))


@dataclass(frozen=True)
class Wound:
    """A repaired wound the note measures: its length (cm), the anatomic group of its site for each kind
    of repair, the site word, the kind of repair its own line states (None: not said), whether it is
    written in a procedure section, and evidence (the length, the site)."""

    cm: float
    groups: dict[str, str]
    site: str
    kind: str | None
    procedure: bool
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class WoundRepairs:
    """The wound repairs of a note, as the repair rule reads them (``wound_repairs_in``).

    ``lines``: (start, lower-case text, section) of the lines that report a wound or its closure;
    ``wounds``: the distinct wounds measured (those of the procedure sections when there are any), each
    with the kind it was repaired by (its line, else a closing line naming its site, else ``overall``);
    ``overall``: the kind the closing lines state (None: not said); ``totals``: stated total lengths;
    ``adhesive_only``: the first line, when the wounds were closed with tissue adhesive alone."""

    lines: tuple[tuple[int, str, str], ...]
    wounds: tuple[tuple[Wound, str], ...]
    overall: str | None
    totals: tuple[float, ...]
    adhesive_only: Evidence | None


def repair_kind(text: str) -> tuple[str, re.Match[str]] | None:
    """The kind of repair (complex, intermediate, simple) the lower-case ``text`` states, with the words."""
    for kind, pattern in REPAIR_KINDS:
        m = pattern.search(text)
        if m:
            return kind, m
    return None


def _kind(text: str) -> str | None:
    found = repair_kind(text)
    return found[0] if found else None


def _lines(note: Note, wide: bool = False) -> list[tuple[int, str, str]]:
    """(start, lower-case text, section) of each line of the note that may report a repair (``wide``:
    also the lines of the indication, history and diagnosis sections)."""
    out, pos = [], 0
    for line in note.text.split("\n"):
        start, pos = pos, pos + len(line) + 1
        if wide:  # a sentence may go on over several lines (a list of wounds in lower case)
            sents = [s for s in note.sentences if s.start < pos and s.end > start]
        else:
            sents = [s for s in note.sentences if start <= s.start < pos]
        if sents and (all(_doing(s) for s in sents) or (wide and not any(s.section in _NOT_NOW for s in sents))):
            out.append((start, line.lower(), sents[0].section))
    return out


def _named_site(text: str, sites: list[tuple[re.Pattern[str], dict[str, str]]]) -> bool:
    return any(p.search(text) for p, _ in sites)


def repair_tables() -> tuple[
    dict[tuple[str, str], list[tuple[float, float, str, str]]], list[tuple[re.Pattern[str], dict[str, str]]]
]:
    """(kind, group) -> [(from_cm, to_cm, code, add-on code)] and [(site pattern, group by kind)]
    (vocab/laceration_repair.tsv, vocab/laceration_sites.tsv)."""
    return _repairs()


def wound_repairs_in(note: Note, *, wide: bool = False) -> WoundRepairs | None:
    """The wounds a note repairs, with lengths, sites and kinds (None: no wound repair reported).

    ``wide`` (the documentation audit) reads more than the coding rule: lengths stated in the
    indication or history, "lac", a length named as such, lines closed with suture material."""
    _, sites = _repairs()
    text = note.text.lower()
    wound = _WOUND_WIDE if wide else _WOUND
    closed = _CLOSED_WIDE if wide else _CLOSED
    if not (wound.search(text) and closed.search(text)):
        return None
    lines = [
        (st, low, sec)
        for st, low, sec in _lines(note, wide)
        if wound.search(low) or closed.search(low) or (wide and _LENGTH.search(low) and _named_site(low, sites))
    ]
    if not lines:
        return None
    repair_text = " ".join(low for _, low, _ in lines if _CLOSED.search(low))
    adhesive = None
    if _ADHESIVE_ONLY.search(repair_text) and not _STITCHES.search(repair_text):
        st, low, _ = lines[0]
        adhesive = _ev(note, st, st + len(low))
    wounds: list[Wound] = []
    totals: list[float] = []
    for st, low, sec in lines:
        for m in _LENGTH.finditer(low):
            cm = float(m.group(1)) / (10 if m.group(2).startswith("m") else 1)
            if re.search(r"total(?: length)?\W*$", low[max(0, m.start() - 20) : m.start()]):
                totals.append(cm)
            near = low[max(0, m.start() - 60) : m.end() + 60]
            if not (
                wound.search(near)
                or wound.search(low[:40])
                or "repair length" in near
                or (wide and (closed.search(low) or _named_site(near, sites)))
            ):
                continue  # a length of something else (a polyp, a tube, a reamer)
            best = None
            for pattern, groups in sites:
                for sm in pattern.finditer(low):
                    d = min(abs(sm.start() - m.end()), abs(m.start() - sm.end()))
                    if best is None or d < best[0]:
                        best = (d, groups, sm)
            where = (
                (best[1], best[2].group(0), st + best[2].start(), st + best[2].end())
                if best is not None
                else _procedure_site(lines, sites) or (_note_site(note, sites) if wide else None)
            )
            if where is None:
                continue
            wev = (_ev(note, st + m.start(), st + m.end()), _ev(note, where[2], where[3]))
            wounds.append(Wound(cm, where[0], where[1], _kind(low), sec in PROCEDURE_LIKE, wev))
    if any(w.procedure for w in wounds):
        wounds = [w for w in wounds if w.procedure]
    unique: dict[tuple[float, str], Wound] = {}
    for w in wounds:
        unique.setdefault((w.cm, w.site), w)
    overall = _kind(repair_text)
    kinds = []
    for w in unique.values():
        kind = w.kind or next(
            (k for _, low, _ in lines if w.site in low and _CLOSED.search(low) for k in [_kind(low)] if k), None
        )
        kinds.append((w, kind or overall or "simple"))
    return WoundRepairs(tuple(lines), tuple(kinds), overall, tuple(totals), adhesive)


def repair_sums(repairs: WoundRepairs) -> dict[tuple[str, str], tuple[float, list[Evidence]]]:
    """The summed length (cm) and evidence of the wounds by (kind, anatomic group); a stated total wins
    when the wounds fall in one group."""
    sums: dict[tuple[str, str], tuple[float, list[Evidence]]] = {}
    for w, kind in repairs.wounds:
        key = (kind, w.groups[kind])
        total, evs = sums.get(key, (0.0, []))
        sums[key] = (total + w.cm, evs + list(w.evidence))
    if len(sums) == 1 and repairs.totals:
        key = next(iter(sums))
        sums[key] = (repairs.totals[-1], sums[key][1])
    return {k: (round(t, 1), evs) for k, (t, evs) in sums.items()}


def wound_repairs(note: Note, out: Findings) -> None:
    """Repairs by kind and anatomic group, lengths added up (a line stating the total length wins)."""
    table, _ = _repairs()
    repairs = wound_repairs_in(note)
    if repairs is None:
        return
    if repairs.adhesive_only is not None:
        out.codes.append(
            Found(
                "G0168",
                0.8,
                (repairs.adhesive_only,),
                "Wound closed with tissue adhesive only (Medicare code).",
                family="repair",
            )
        )
        out.notices.append("Wound closed with tissue adhesive only: Medicare G0168; other payers code a simple repair.")
        return
    sums = repair_sums(repairs)
    excised = any(f.family == "excision" for f in out.codes)
    for (k, group), (total, evs) in sorted(sums.items(), key=lambda kv: (RANK[kv[0][0]], -kv[1][0])):
        if excised and k == "simple":
            continue  # a simple closure is part of the excision
        _code_repair(out, table, k, group, total, evs)


def _procedure_site(
    lines: list[tuple[int, str, str]], sites: list[tuple[re.Pattern[str], dict[str, str]]]
) -> tuple[dict[str, str], str, int, int] | None:
    """(groups, site word, start, end in the note) of the site a procedure section names, for a length
    written without one ("final repair length 2.4 cm")."""
    for st, low, sec in lines:
        if sec in PROCEDURE_LIKE:
            for pattern, groups in sites:
                sm = pattern.search(low)
                if sm:
                    return groups, sm.group(0), st + sm.start(), st + sm.end()
    return None


_SITE_LINE = re.compile(r"^\W*(?:location|site|wound|lac\w*|injury)\b")


def _note_site(
    note: Note, sites: list[tuple[re.Pattern[str], dict[str, str]]]
) -> tuple[dict[str, str], str, int, int] | None:
    """The site of a length written on a line of its own ("Length: 3.2 cm"): the site of a line that
    names the wound's location ("Location: left volar forearm"), else the one site the note names
    outside its history and plan; None when it names several."""
    found: list[tuple[dict[str, str], str, int, int]] = []
    pos = 0
    for line in note.text.split("\n"):
        start, pos = pos, pos + len(line) + 1
        low = line.lower()
        sec = next((s.section for s in note.sentences if s.start < pos and s.end > start), None)
        if sec in _NOT_NOW:
            continue
        for pattern, groups in sites:
            sm = pattern.search(low)
            if sm:
                hit = (groups, sm.group(0), start + sm.start(), start + sm.end())
                if _SITE_LINE.search(low):
                    return hit
                found.append(hit)
    return found[0] if len({f[1] for f in found}) == 1 else None


RANK = {"complex": 0, "intermediate": 1, "simple": 2}
PROCEDURE_LIKE = frozenset({"procedure", "procedure_description"})


def repair_code(
    kind: str,
    group: str,
    total: float,
    table: dict[tuple[str, str], list[tuple[float, float, str, str]]] | None = None,
) -> tuple[str, str, int] | None:
    """(code, add-on code or "", add-on units) of a ``kind`` repair of ``total`` cm in ``group`` (None:
    shorter than the codes' least length)."""
    rows = (table or _repairs()[0])[(kind, group)]
    if total < rows[0][0]:
        return None
    for lo, hi, c, _ in rows:
        if lo <= total <= hi or (total < lo and c == rows[0][2]):
            return c, "", 0
    code, addon, top = rows[-1][2], rows[-1][3], rows[-1][1]
    if addon and total > top:
        return code, addon, int(-(-(total - top) // 5))
    return code, "", 0


def _code_repair(
    out: Findings,
    table: dict[tuple[str, str], list[tuple[float, float, str, str]]],
    k: str,
    group: str,
    total: float,
    evs: list[Evidence],
) -> None:
    found = repair_code(k, group, total, table)
    if found is None:  # a complex repair of 1 cm or less is coded as a simple or intermediate one
        out.notices.append(f"A {k} repair of {total} cm is shorter than the codes' least length.")
        return
    code, addon, extra = found
    top = table[(k, group)][-1][1]
    why = f"{k.capitalize()} repair, summed length {total:g} cm, {group.replace('_', ', ')}."
    out.codes.append(Found(code, 0.85, tuple(evs), why, family="repair"))
    if addon:
        out.codes.append(
            Found(
                addon, 0.8, tuple(evs), f"Each further 5 cm beyond {top:g} cm ({extra}).", units=extra, family="repair"
            )
        )


# --- excision of skin lesions -------------------------------------------------------------------


@cache
def _excisions() -> dict[tuple[str, str], list[tuple[float, float, str]]]:
    out: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    for r in read("lesion_excision.tsv", ("kind", "group", "code", "from_cm", "to_cm?")):
        top = float(r["to_cm"]) if r["to_cm"] else float("inf")
        out.setdefault((r["kind"], r["group"]), []).append((float(r["from_cm"]), top, r["code"]))
    return out


_EXCISION = re.compile(r"\bexcis(?:ion|ed)\b[^.]*\blesion|\blesion\b[^.]*\bexcis(?:ion|ed)\b|elliptical excision")
_MALIGNANT = re.compile(r"malignan\w*|carcinoma|melanoma|\bbcc\b|\bscc\b|lentigo maligna")
_DIAMETER = re.compile(r"excised diameter(?: of)? (\d+(?:\.\d+)?) ?cm")
_LESION = re.compile(r"(\d+(?:\.\d+)?) ?cm lesion|lesion (?:of |measuring )?(\d+(?:\.\d+)?) ?cm")
_MARGIN = re.compile(r"(\d+(?:\.\d+)?) ?(mm|cm) margins?")


def lesion_excisions(note: Note, out: Findings) -> None:
    """One excision of a skin lesion by kind, anatomic group and excised diameter."""
    text = note.text.lower()
    m = _EXCISION.search(text)
    if m is None or not any(True for s in note.sentences if _doing(s) and _EXCISION.search(s.text.lower())):
        return
    d = _DIAMETER.search(text)
    if d:
        cm = float(d.group(1))
    else:
        size, margin = _LESION.search(text), _MARGIN.search(text)
        if size is None:
            out.notices.append("An excised skin lesion without its size: the excised diameter decides the code.")
            return
        cm = float(size.group(1) or size.group(2))
        if margin:
            cm += 2 * float(margin.group(1)) / (10 if margin.group(2) == "mm" else 1)
    kind = "malignant" if _MALIGNANT.search(text) else "benign"
    _, sites = _repairs()
    group = next((g["excision"] for p, g in sites if p.search(text[m.start() : m.end() + 80])), None)
    group = group or next((g["excision"] for p, g in sites if p.search(text)), None)
    if group is None:
        return
    rows = _excisions()[(kind, group)]
    cm = round(cm, 1)
    code = next((c for lo, hi, c in rows if lo <= cm <= hi), rows[-1][2])
    why = f"Excision of a {kind} skin lesion, excised diameter {cm:g} cm, {group.replace('_', ', ')}."
    out.codes.append(Found(code, 0.8, (_ev(note, m.start(), m.end()),), why, family="excision"))


# --- drug-delivery devices (20700-20705) --------------------------------------------------------

_DEVICE = re.compile(
    r"antibiotic[- ](?:loaded |impregnated |laden )?(?:cement |bone cement |pmma )?(?:spacer|beads?|rod|nail|cement)"
    r"|drug[- ]delivery device|(?:cement|pmma) (?:spacer|beads?|rod|nail)|spacer"
)
_MANUAL = re.compile(
    r"by hand|hand[- ]?(?:made|mixed|rolled|fashioned|formed|molded)|mixed|fashioned|molded|moulded|"
    r"prepared|rolled|formed|custom|manually"
)
_REMOVED = re.compile(r"\bremov\w*|explant\w*|retriev\w*|taken out")
_SITES = (
    ("intramedullary", re.compile(r"intramedullary|medullary canal|(?:femoral|tibial|humeral) canal|\bcanal\b")),
    ("intra-articular", re.compile(r"intra-?articular|joint|articular|knee|hip|shoulder")),
    ("deep", re.compile(r"beneath the fascia|subfascial|deep|soft tissue|muscle|fascia")),
)
_DEVICE_CODES = {
    ("deep", False): "20700",
    ("deep", True): "20701",
    ("intramedullary", False): "20702",
    ("intramedullary", True): "20703",
    ("intra-articular", False): "20704",
    ("intra-articular", True): "20705",
}


_INSERTED = re.compile(r"\binsert\w*|\bplace[dm]\w*|implant\w*|\bpacked\b|cemented")


def _removal(low: str, at: int) -> bool | None:
    """Whether the verb nearest to the device mention at ``at`` removes it (None: no verb)."""
    verbs = [(m, True) for m in _REMOVED.finditer(low)] + [(m, False) for m in _INSERTED.finditer(low)]
    if not verbs:
        return None
    m, removal = min(verbs, key=lambda v: abs(v[0].start() - at))
    return removal


def drug_delivery(note: Note, out: Findings) -> None:
    seen: set[str] = set()
    manual = bool(_MANUAL.search(note.text.lower()))
    for i, s in enumerate(note.sentences):
        low = s.text.lower()
        if not _doing(s):
            continue
        for m in _find(_DEVICE, note, s):
            removal = _removal(low, m.start())
            site = next((name for name, p in _SITES if p.search(low)), None)
            if site is None or removal is None:
                continue
            if not removal and not manual:
                out.notices.append(
                    "A drug-delivery device not prepared by hand (premanufactured) has no 20700-20704 code."
                )
                continue
            code = _DEVICE_CODES[(site, removal)]
            out.used.add(i)
            if code in seen:
                break
            seen.add(code)
            what = "Removal of" if removal else "Manual preparation and insertion of"
            out.codes.append(
                Found(code, 0.85, (_sent_ev(s),), f"{what} a drug-delivery device, {site}.", family="drug_delivery")
            )
            break
