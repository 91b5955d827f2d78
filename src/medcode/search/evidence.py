"""Coding-rule evidence for word search: what a query says about laterality, the encounter
(ICD-10-CM 7th character) and contrast, what a code's title says about them, and how much a
code's title says beyond the query (a general code ahead of its specific variants when the
query names nothing more)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from medcode.language.words import stem, words

# Words of a query that name a side of the body.
SIDES = {
    "right": "right",
    "rt": "right",
    "left": "left",
    "lt": "left",
    "bilateral": "bilateral",
    "bilat": "bilateral",
    "both": "bilateral",
    "bil": "bilateral",
}
# Words and phrases of a query that name the encounter (the 7th character of injury codes).
ENCOUNTERS = (
    ("sequela", re.compile(r"\b(sequela|sequelae|late effects?|residual)\b")),
    ("subsequent", re.compile(r"\b(subsequent|follow[ -]?up|f/u|routine healing|delayed healing|nonunion|malunion)\b")),
    ("initial", re.compile(r"\b(initial|first encounter|new injury|acute injury)\b")),
)
# 7th characters of ICD-10-CM injury, poisoning and fracture codes by encounter.
SEVENTH = {"A": "initial", "B": "initial", "C": "initial", "S": "sequela"}
# Contrast material, in the forms queries and CMS short descriptors write it, read as plain words.
CONTRAST_FORMS = (
    (re.compile(r"\bc-/c\+|\bc-\+|\bc\+wo\b"), " without and with contrast "),
    (re.compile(r"\bw/o\b|\bwo\b"), " without "),
    (re.compile(r"\bw/"), " with "),
    (re.compile(r"\bc-(?![0-9])"), " without contrast "),
    (re.compile(r"\bc\+"), " with contrast "),
    (re.compile(r"\b(dye|cntrst|contrast material|iv contrast)\b"), " contrast "),
    (re.compile(r"\b(non-?contrast|no contrast|unenhanced)\b"), " without contrast "),
    (re.compile(r"\b(contrast[- ]enhanced|enhanced)\b"), " with contrast "),
    (re.compile(r"\bflwd\b"), " followed by "),
    (re.compile(r"&"), " and "),
)
BOTH = re.compile(r"without (contrast )?(and|followed by|then|/) ?(with|contrast)|with (contrast )?(and|or|/) ?without")
# Title words that say a code is the general one (nothing more was documented).
DEFAULT_WORDS = frozenset(stem(w) for w in ("unspecified", "nos", "uncomplicated"))
WITHOUT_COMPLICATIONS = re.compile(
    r"\bwithout (complications?|mention|abnormal findings|lower urinary|[a-z ]*symptoms)"
)


@dataclass(frozen=True)
class Reading:
    """What a query says beyond its words: side, encounter, contrast."""

    side: str | None = None
    encounter: str | None = None
    contrast: str | None = None  # "without", "with", "both"
    intent: str | None = None  # of a poisoning or drug effect: "accidental", "self-harm", "assault", ...


def read(text: str) -> Reading:
    low = " ".join(text.lower().split())
    side = None
    for w in words(low):
        if w in SIDES:
            side = SIDES[w] if side in (None, SIDES[w]) else "bilateral"  # "right and left"
    encounter = next((name for name, rx in ENCOUNTERS if rx.search(low)), None)
    asked = contrast(low)
    if asked is None and IMAGING.search(low):  # "ct chest w/o", "mri knee wo"
        end = TRAILING.search(low)
        asked = None if end is None else ("without" if end.group(1) in ("w/o", "wo", "without") else "with")
    intent = next((name for name, rx in INTENTS if rx.search(low)), None)
    return Reading(side, encounter, asked, intent)


# The intent of a poisoning, or a drug's adverse effect or underdosing, as a query says it (the
# columns of the Table of Drugs and Chemicals); first match wins.
INTENTS = (
    (
        "self-harm",
        re.compile(r"\b(suicid\w*|self[- ]?harm\w*|self[- ]inflicted|intentional(?!ly)|on purpose|deliberate\w*)\b"),
    ),
    ("assault", re.compile(r"\b(assault\w*|homicid\w*)\b")),
    ("undetermined", re.compile(r"\b(undetermined|unknown intent|intent unknown)\b")),
    ("underdosing", re.compile(r"\b(underdos\w*|missed doses?|too little)\b")),
    ("adverse effect", re.compile(r"\b(adverse|side[- ]effects?|reaction to|allergic to|intoleran\w*)\b")),
    ("accidental", re.compile(r"\b(accident\w*|unintentional\w*|by mistake)\b")),
)
DOC_INTENTS = (
    ("accidental", "accidental (unintentional)"),
    ("self-harm", "intentional self-harm"),
    ("assault", "assault"),
    ("undetermined", "undetermined"),
    ("adverse effect", "adverse effect of"),
    ("underdosing", "underdosing of"),
)


def doc_intent(system: str, code: str, title: str) -> str | None:
    """The intent column of a T36-T65 code (poisoning, toxic effect, adverse effect, underdosing)."""
    if system != "ICD-10-CM" or not code.startswith("T") or not "36" <= code[1:3] <= "65":
        return None
    low = title.lower()
    return next((name for name, words in DOC_INTENTS if words in low), None)


def intent_score(asked: str | None, has: str | None) -> float:
    """ICD-10-CM guideline I.C.19.e.5.b: a poisoning whose intent is not stated is coded as accidental;
    undetermined only when the record says the intent cannot be determined."""
    if has is None:
        return 0.0
    if asked is None:
        return 0.0 if has == "accidental" else -0.3
    return 0.3 if has == asked else -0.6


IMAGING = re.compile(r"\b(ct|cat|mri|mra|cta|mr|computed|magnetic|angiograph\w*)\b")
TRAILING = re.compile(r"(?:^|\s)(w/o|wo|without|w/|w|with)$")


def contrast(text: str) -> str | None:
    """``without``, ``with``, ``both`` or None: the contrast material a text names."""
    low = text.lower()
    if "c" not in low:
        return None
    for rx, plain in CONTRAST_FORMS:
        low = rx.sub(plain, low)
    low = " ".join(low.split())
    if "contrast" not in low:
        return None
    if BOTH.search(low):
        return "both"
    if "without contrast" in low:
        return "without"
    return "with"


def doc_side(title: str) -> str | None:
    """The side a code's title names: right, left, bilateral, unspecified or None."""
    low = title.lower()
    if re.search(r"\bbilateral\b", low):
        return "bilateral"
    r, lt = re.search(r"\bright\b", low), re.search(r"\bleft\b", low)
    if r and not lt:
        return "right"
    if lt and not r:
        return "left"
    if r and lt:
        return None  # "right and left", "left ventricle ... right": no one side
    if re.search(r"\bunspecified (side|[a-z]+ (?:knee|hip|shoulder|elbow|wrist|ankle|foot|hand|eye|ear|leg|arm))", low):
        return "unspecified"
    return None


def doc_encounter(system: str, code: str, title: str) -> str | None:
    if system != "ICD-10-CM" or len(code) != 8:
        return None
    if "encounter" not in title.lower() and not title.lower().endswith("sequela"):
        return None
    seventh = SEVENTH.get(code[-1])
    if seventh is not None:
        return seventh
    low = title.lower()
    if any(w in low for w in HEALING_PROBLEMS):  # delayed healing, nonunion, malunion: said, or not this code
        return "subsequent, healing problem"
    return "subsequent"


HEALING_PROBLEMS = ("delayed healing", "nonunion", "malunion")


def side_score(asked: str | None, has: str | None) -> float:
    if asked is None:
        return -0.1 if has in ("right", "left", "bilateral") else 0.0
    if has == asked:
        return 0.3
    if has in ("right", "left", "bilateral"):
        return -1.0
    return -0.15  # the query names a side, the code does not


def encounter_score(asked: str | None, has: str | None) -> float:
    if has is None:
        return 0.0
    if has == "subsequent, healing problem":  # the words of the query decide; a bare "follow-up" means routine healing
        return -0.3 if asked is None else 0.0 if asked == "subsequent" else -0.6
    if asked is None:
        return 0.0 if has == "initial" else -0.3
    return 0.3 if has == asked else -0.6


def contrast_score(asked: str | None, has: str | None) -> float:
    if asked is None or has is None:
        return 0.0
    return 0.6 if has == asked else -0.6


GENERIC = (
    "organism|site|side|type|part|eye|ear|region|limb|stage|trimester|severity|degree|cause|kind|body region|"
    "lower limb|upper limb"
)
UNSAID = re.compile(
    rf"\bunspecified ({GENERIC})\b|\b([a-z]+) not specified|\bwithout ([^,;(]+?)(?= in | with |[,;(]|$)"
    r"|\bnot (?!specified|elsewhere)([^,;(]+?)(?= in | with |[,;(]|$)"
)


def unsaid(title: str) -> set[str]:
    """Stems of the title's words that ask nothing of a query that does not name them: what it
    says is not specified ("unspecified organism", "site not specified") or absent ("without
    status migrainosus", "not intractable")."""
    low = title.lower()
    if "specified" not in low and "not" not in low and "without" not in low:
        return set()
    return {stem(w) for m in UNSAID.finditer(low) for g in m.groups() if g for w in words(g)}


def is_default(title: str, title_stems: set[str]) -> bool:
    """Does the title say it is the general code ("unspecified", "NOS", "without complications")?"""
    return bool(title_stems & DEFAULT_WORDS) or bool(WITHOUT_COMPLICATIONS.search(title.lower()))
