"""Wound repair (12001-13160): the summed length of the wounds of the billed kind in the billed anatomic
group must fall in the code's range, the wounds must lie in that group, and the note must document a
repair at least as extensive as the billed kind.

The wounds, their lengths, sites and groups are read by ``medcode.suggest.surgery.wound_repairs_in``
(the rule Case2Code codes with; groups and ranges in ``vocab/laceration_repair.tsv`` and
``vocab/laceration_sites.tsv``). The kind of repair is read here with negation ("no undermining was
needed" is not a complex repair). Closure with adhesive strips alone is not a repair code (CPT, NCCI
chapter III); tissue adhesive alone is a simple repair (Medicare: G0168). Treatment of a dehiscence
(12020, 12021) and secondary closure (13160) have no length range: the length is advice for them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import cache

from medcode.audit import evidence as ev
from medcode.audit.catalogue import ElementSpec, Family
from medcode.audit.families import Billed, Judged
from medcode.audit.families.colonoscopy import indication_spans, outside
from medcode.audit.model import Element, Evidence
from medcode.language.note import Note
from medcode.suggest.surgery import (
    RANK,
    REPAIR_KINDS,
    Wound,
    WoundRepairs,
    repair_code,
    repair_sums,
    repair_tables,
    wound_repairs_in,
)

__all__ = ["RULES", "judge"]

RULES = frozenset({"length", "location", "repair_type"})

SKIP = frozenset({"plan", "instructions", "past_history", "family_history", "medications"})
DEHISCENCE_CODES = frozenset({"12020", "12021", "13160"})

# Kinds of repair the suggest rule's words do not name (CPT's definitions, in our words): a single-layer
# closure of a heavily contaminated wound that needed extensive cleaning is intermediate; debrided
# wound edges, stents and scar revision are more than a layered closure.
_MORE_KINDS = (
    (
        "complex",
        re.compile(
            r"\b(?:edges?|margins?) (?:were |was )?(?:\w+ )?debrided|"
            r"debrid\w* (?:of )?(?:the )?(?:\w+ )?(?:edges?|margins?)|"
            r"(?:widely|extensively) undermined|undermin\w* (?:widely|extensively)|"
            r"\bstents?\b|scar revision|retention sutures?"
        ),
    ),
    (
        "intermediate",
        re.compile(
            r"heavily contaminated|grossly contaminated|extensive(?:ly)? (?:clean\w*|irrigat\w*|decontaminat\w*)|"
            r"removal of (?:embedded |particulate |foreign )?(?:matter|debris|material|gravel)|particulate matter|"
            r"closed in (?:two |multiple )?layers|\bburied (?:interrupted |dermal )?sutures|deep dermal"
        ),
    ),
)
_LABEL = re.compile(r"(?:complex|intermediate)\b")
_MATERIAL = re.compile(
    r"\bsutur\w*|\bstaple\w*|\bnylon\b|\bprolene\b|\bvicryl\b|\bmonocryl\b|\bethilon\b|\bchromic\b|\bsilk\b|"
    r"\b\d-0\b|dermabond|tissue adhesive|skin adhesive|skin glue|cyanoacrylate|\boctyl"
)
_ADHESIVE = re.compile(r"dermabond|tissue adhesive|skin adhesive|skin glue|cyanoacrylate|\boctyl")
_STRIPS = re.compile(r"steri-?strips?|adhesive strips?|butterfly (?:strips?|closures?|bandages?)|wound closure strips?")
_REPAIRED = re.compile(r"\brepair(?:ed)?\b|\bclosed\b|\bclosure\b|\bapproximated\b")
_DEHISCED = re.compile(
    r"dehiscen\w*|dehisced|wound (?:separation|breakdown|disruption)|"
    r"(?:wound|incision) (?:has |had |was )?(?:opened|separated|broken down)"
)
_PACKED = re.compile(r"\bpack(?:ed|ing)\b")
_EXTENSIVE = re.compile(
    r"secondary closure|extensive|complicated|complex|debrid\w*|undermin\w*|layered|retention sutures?"
)
_GROUP_WORDS = {
    "trunk_limbs": "scalp, neck, axillae, genitalia, trunk or limbs",
    "face": "face, ears, eyelids, nose, lips or mucous membranes",
    "scalp_trunk_limbs": "scalp, axillae, trunk or limbs",
    "neck_hands_feet_genitalia": "neck, hands, feet or genitalia",
    "trunk": "trunk",
    "scalp_arms_legs": "scalp, arms or legs",
    "face_neck_hands_feet": "forehead, cheeks, chin, mouth, neck, axillae, genitalia, hands or feet",
    "eyelids_nose_ears_lips": "eyelids, nose, ears or lips",
}


@dataclass(frozen=True)
class _Row:
    kind: str
    group: str
    lo: float
    hi: float  # inclusive; for an add-on: the primary's top, exclusive (the add-on needs more)
    addon: bool


@cache
def _rows() -> dict[str, _Row]:
    """Each length-ranged code and the add-on codes: kind, group and range (vocab/laceration_repair.tsv)."""
    table, _ = repair_tables()
    out: dict[str, _Row] = {}
    for (kind, group), rows in table.items():
        for i, (lo, hi, code, addon) in enumerate(rows):
            last = i == len(rows) - 1
            out[code] = _Row(kind, group, lo, math.inf if last else hi, False)
            if addon:
                out[addon] = _Row(kind, group, hi, math.inf, True)
    return out


def _el(
    spec: ElementSpec, status: str, found: tuple[Evidence, ...] = (), detail: str = "", required: bool | None = None
) -> Element:
    return ev.make(spec, status, found, detail, required)


def _a(kind: str) -> str:
    return f"an {kind}" if kind == "intermediate" else f"a {kind}"


def _cm(x: float) -> str:
    return f"{x:g} cm"


def _hits(note: Note, patterns: tuple[re.Pattern[str], ...]) -> list[ev.Hit]:
    """Matches outside SKIP and outside the indication itself (``indication_spans``)."""
    return outside(ev.hits(note, patterns, SKIP), indication_spans(note))


def _documented_kinds(note: Note) -> tuple[dict[str, list[ev.Hit]], list[ev.Hit]]:
    """Affirmed words of each kind of repair; and the negated ones."""
    kinds: dict[str, list[ev.Hit]] = {}
    negated: list[ev.Hit] = []
    for kind, pattern in (*REPAIR_KINDS, *_MORE_KINDS):
        for h in _hits(note, (pattern,)):
            if _LABEL.match(note.text[h.start : h.end].lower()):
                continue  # "complex repair" names the code, it does not document the work
            if h.status == "present":
                kinds.setdefault(kind, []).append(h)
            elif h.status == "negated":
                negated.append(h)
    return kinds, negated


def _audit_wounds(rep: WoundRepairs, kinds: dict[str, list[ev.Hit]]) -> WoundRepairs:
    """The wounds with the kind the audit reads: the suggest rule's kind of each wound, unless the note
    negates the words it came from (then the most extensive kind the note affirms, else simple); a
    wound the rule calls simple by default takes the one more extensive kind the note affirms."""
    higher = sorted((k for k in kinds if k != "simple"), key=RANK.__getitem__)
    out = []
    for w, k in rep.wounds:
        at = w.evidence[0].start
        line = next(((st, st + len(low)) for st, low, _ in rep.lines if st <= at <= st + len(low)), (at, at))
        own = [kind for kind, hs in kinds.items() for h in hs if line[0] <= h.start < line[1]]
        if own:
            k = min(own, key=RANK.__getitem__)
        elif k != "simple" and k not in kinds:
            k = higher[0] if higher else "simple"
        elif k == "simple" and len(higher) == 1:
            k = higher[0]
        out.append((w, k))
    return replace(rep, wounds=tuple(out))


def _kind_of(note: Note, h: ev.Hit) -> str | None:
    words = note.text[h.start : h.end].lower()
    return next((k for k, p in (*REPAIR_KINDS, *_MORE_KINDS) if p.search(words)), None)


def _quote(note: Note, found: list[ev.Hit]) -> str:
    said = list(dict.fromkeys(ev.sentence_of(note, h.start) or note.text[h.start : h.end] for h in found))
    return "; ".join(f'"{w}"' for w in said[:2])


def _sites(wounds: list[Wound]) -> str:
    return ", ".join(dict.fromkeys(w.site for w in wounds))


def judge(kb: object, note: Note, billed: Billed, family: Family) -> Judged:
    rep = wound_repairs_in(note, wide=True)
    kinds, negated = _documented_kinds(note)
    if billed.code in DEHISCENCE_CODES:
        return _dehiscence(note, billed, family, rep)
    row = _rows()[billed.code]
    K, G = row.kind, row.group
    wounds = _audit_wounds(rep, kinds) if rep is not None else None
    pairs = list(wounds.wounds) if wounds is not None else []
    selected = [w for w, k in pairs if k == K] or [w for w, _ in pairs]
    in_group = [w for w in selected if w.groups[K] == G]
    sums = repair_sums(replace(wounds, wounds=tuple((w, K) for w in selected))) if wounds is not None else {}
    total = sums.get((K, G), (None, []))[0]

    # length
    spec = family.element("length")
    if not pairs:
        length = _el(spec, "missing", detail="The note gives no length for a repaired wound.")
    else:
        measured = in_group
        if total is None:  # the wounds lie in another group (the location says so): their length still counts
            measured = selected
            total = round(sum(w.cm for w in selected), 1)
            if len({w.groups[K] for w in selected}) == 1 and wounds is not None and wounds.totals:
                total = wounds.totals[-1]
        parts = " + ".join(_cm(w.cm) for w in measured)
        said = f"{_cm(total)} in total" + (f" ({parts})" if len(measured) > 1 else "")
        found = tuple(w.evidence[0] for w in measured)
        if row.addon:
            ok = total > row.lo
            rng = f"more than {_cm(row.lo)} (each further 5 cm or part)"
        else:
            ok = row.lo <= total <= row.hi
            rng = f"{row.lo:g} to {row.hi:g} cm" if row.hi != math.inf else f"{_cm(row.lo)} or more"
        if ok:
            units = f"; {math.ceil((total - row.lo) / 5)} unit(s)" if row.addon else ""
            length = _el(spec, "present", found, f"{K.capitalize()} repair, {said}{units}.")
        else:
            length = _el(
                spec, "missing", found, f"The note's {K} repairs here add up to {said}; {billed.code} covers {rng}."
            )

    # location
    spec = family.element("location")
    if in_group:
        location = _el(spec, "present", tuple(w.evidence[1] for w in in_group))
    elif selected:
        groups = ", ".join(dict.fromkeys(_GROUP_WORDS[w.groups[K]] for w in selected))
        location = _el(
            spec,
            "missing",
            tuple(w.evidence[1] for w in selected),
            f"The note places the wound on the {_sites(selected)} ({groups}), "
            f"not in this code's group ({_GROUP_WORDS[G]}).",
        )
    else:
        location = _site_only(note, family.element("location"), K, G)

    # repair type
    repair_type = _repair_type(note, family.element("repair_type"), K, kinds, negated, rep)

    elements = (length, location, repair_type)
    holds = all(e.status == "present" for e in elements)
    suggested = None if holds else _suggest(billed, wounds, total, K, G)
    return Judged(elements=elements, holds=holds, suggested_code=suggested)


def _site_only(note: Note, spec: ElementSpec, kind: str, group: str | None) -> Element:
    """Location when no wound is measured: a body site the note names (``group`` None: any site)."""
    _, sites = repair_tables()
    found = []
    for pattern, groups in sites:
        for h in _hits(note, (pattern,)):
            if h.status == "present":
                found.append((h, groups[kind]))
    mine = [h for h, g in found if group is None or g == group]
    if mine:
        return _el(spec, "present", ev.evidence(note, mine))
    if found:
        words = ", ".join(dict.fromkeys(note.text[h.start : h.end] for h, _ in found))
        return _el(
            spec,
            "missing",
            ev.evidence(note, [h for h, _ in found]),
            f"The note names the {words}, not a site of this code's group ({_GROUP_WORDS.get(group or '', group)}).",
        )
    return _el(spec, "missing", detail="The note names no body site for the repair.")


def _repair_type(
    note: Note,
    spec: ElementSpec,
    billed_kind: str,
    kinds: dict[str, list[ev.Hit]],
    negated: list[ev.Hit],
    rep: WoundRepairs | None,
) -> Element:
    at_least = [h for k, hs in kinds.items() if RANK[k] <= RANK[billed_kind] for h in hs]
    if billed_kind != "simple" and at_least:
        return _el(spec, "present", ev.evidence(note, at_least))
    materials = [h for h in _hits(note, (_MATERIAL,)) if h.status == "present"]
    strips = [h for h in _hits(note, (_STRIPS,)) if h.status == "present"]
    if billed_kind == "simple":
        if at_least or materials:
            adhesive = materials and all(_ADHESIVE.search(note.text[h.start : h.end].lower()) for h in materials)
            detail = "Closed with tissue adhesive alone: a simple repair (Medicare: G0168)." if adhesive else ""
            return _el(spec, "present", ev.evidence(note, at_least + materials), detail)
        if strips:
            return _el(
                spec,
                "missing",
                ev.evidence(note, strips),
                "The wound was closed with adhesive strips only: that is not a repair code (report the visit instead).",
            )
        closed = [h for h in _hits(note, (_REPAIRED,)) if h.status == "present"]
        if closed and rep is not None:
            return _el(spec, "present", ev.evidence(note, closed), "The note says the wound was repaired or closed.")
        return _el(spec, "missing", detail="The note does not say how the wound was closed.")
    mine = [h for h in negated if _kind_of(note, h) == billed_kind]
    if mine:
        return _el(spec, "negated", ev.evidence(note, mine), f"The note says {_quote(note, mine)}.")
    documented = min(kinds, key=lambda k: RANK[k]) if kinds else ("simple" if materials else None)
    if documented is not None:
        said = kinds.get(documented, materials)
        return _el(
            spec,
            "missing",
            ev.evidence(note, said),
            f"The note documents {_a(documented)} repair ({_quote(note, said)}), not {_a(billed_kind)} one.",
        )
    if strips:
        return _el(
            spec,
            "missing",
            ev.evidence(note, strips),
            "The wound was closed with adhesive strips only: not a repair code.",
        )
    return _el(spec, "missing", detail=f"The note does not document {_a(billed_kind)} repair.")


def _suggest(billed: Billed, wounds: WoundRepairs | None, total: float | None, kind: str, group: str) -> str | None:
    """The repair code the note supports instead of the billed one (not one billed already)."""
    if wounds is None or not wounds.wounds:
        return None
    candidates: list[tuple[int, float, str]] = []
    for (k, g), (t, _) in repair_sums(wounds).items():
        found = repair_code(k, g, t)
        if found is None:  # a complex repair of 1 cm or less: the intermediate code of its site
            w = next(w for w, wk in wounds.wounds if wk == k and w.groups[k] == g)
            k, g = "intermediate", w.groups["intermediate"]
            found = repair_code(k, g, t)
            if found is None:
                continue
        rank = 0 if (k, g) == (kind, group) else 1 if k == kind else 2
        candidates.append((rank, -t, found[1] if _rows()[billed.code].addon and found[1] else found[0]))
    for _, _, code in sorted(candidates):
        if code != billed.code and code not in billed.others:
            return code
    return None


def _dehiscence(note: Note, billed: Billed, family: Family, rep: WoundRepairs | None) -> Judged:
    """12020, 12021, 13160: a dehisced wound closed (with packing; secondary closure, extensive or
    complicated). No length range: the length is advice."""
    spec = family.element("length")
    if rep is not None and rep.wounds:
        length = _el(spec, "present", tuple(w.evidence[0] for w, _ in rep.wounds), required=False)
    else:
        length = _el(spec, "missing", detail="No wound length given (advice).", required=False)
    location = _site_only(note, family.element("location"), "simple", None)
    spec = family.element("repair_type")
    dehisced = [h for h in _hits(note, (_DEHISCED, re.compile("secondary closure"))) if h.status == "present"]
    need = {"12021": (_PACKED, "packing of the wound"), "13160": (_EXTENSIVE, "an extensive or complicated closure")}
    if not dehisced:
        repair_type = _el(spec, "missing", detail="The note does not describe a dehisced (separated) wound.")
    elif billed.code in need:
        pattern, what = need[billed.code]
        more = [h for h in _hits(note, (pattern,)) if h.status == "present"]
        repair_type = (
            _el(spec, "present", ev.evidence(note, dehisced + more))
            if more
            else _el(spec, "missing", ev.evidence(note, dehisced), f"The note does not document {what}.")
        )
    else:
        closed = [h for h in _hits(note, (_REPAIRED, _MATERIAL)) if h.status == "present"]
        repair_type = (
            _el(spec, "present", ev.evidence(note, dehisced + closed))
            if closed
            else _el(spec, "missing", ev.evidence(note, dehisced), "The note does not say the wound was closed.")
        )
    elements = (length, location, repair_type)
    return Judged(elements=elements, holds=location.status == "present" and repair_type.status == "present")
