"""THE rule table: what the PFS indicators, status codes, modifiers and payment shares mean for a
claim. Read by the per-claim checks, the batch engine, repricing, the code page guide and the
modifier pages; nothing else writes these rules down.

It is plain data (no I/O and no medcode imports), so that every layer can read it: ``pricing``
and ``claims`` both import it without an import cycle. Each entry says which CMS text it comes
from (RVU26B.pdf, the PFS relative value file record layout; the NCCI policy manual).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

# --- findings -------------------------------------------------------------------------------

SEVERITY_ORDER = {"deny": 0, "warn": 1, "info": 2}

# --- claims --------------------------------------------------------------------------------

# What medcode checks on one claim: the 837P 005010X222A1 limits (loop 2400 repeats at most 50
# times; HI carries at most 12 diagnoses; SV1 at most 4 modifiers). Larger claims are refused with
# a ``validity.bad_input`` finding, so no check grows with the square of a claim's size.
MAX_LINES = 50
MAX_DIAGNOSES = 12
MAX_MODIFIERS = 4

# --- codes ----------------------------------------------------------------------------------

EM_FIRST, EM_LAST = 99202, 99499  # evaluation and management services


def is_em(code: str) -> bool:
    """An evaluation and management code (99202-99499)."""
    return len(code) == 5 and code.isdigit() and EM_FIRST <= int(code) <= EM_LAST


# --- PFS status -----------------------------------------------------------------------------

# (which statuses have a national amount, and which the MAC prices: see "payment shares")

# How a claim line fares with each status of RVU26B.pdf Attachment A (A, active, has no finding),
# and what to do about it. deny: the PFS never pays the line as billed; info: paid elsewhere, by
# the MAC, or under conditions.
STATUS_SEVERITY = {
    "B": "deny",
    "D": "deny",
    "F": "deny",
    "G": "deny",
    "H": "deny",
    "I": "deny",
    "N": "deny",
    "P": "deny",
    "M": "info",
    "X": "info",
    "E": "info",
    "C": "info",
    "J": "info",
    "R": "info",
    "T": "info",
    "Q": "info",
}
STATUS_FIX = {
    "B": "Do not bill it separately: its payment is bundled into the other services of the day.",
    "D": "Use the code that replaced it.",
    "F": "Use the code that replaced it (deleted with no grace period).",
    "G": "Bill the code Medicare uses for this service instead.",
    "H": "The component (26 or TC) was deleted for this code: bill the code without it.",
    "I": "Bill the HCPCS Level II code Medicare accepts for this service instead.",
    "N": "Medicare does not cover it: have the patient sign an ABN before the service if you will bill them.",
    "P": "Bundled or excluded under the PFS: do not expect a separate PFS payment.",
    "M": "A quality-measurement code: report it for MIPS, it pays nothing.",
    "X": "Not paid under the PFS (another fee schedule or no benefit): bill it where it is paid.",
    "E": "Excluded from the PFS by regulation: bill it under the schedule that pays it (for drugs, ASP).",
    "C": "The MAC prices it: attach documentation of the work.",
    "J": "Anesthesia services are paid by base and time units, not RVUs.",
    "R": "Restricted coverage: special coverage rules apply and, if covered, the MAC prices it; check them first.",
    "T": "Paid only when no other paid service is billed on the day.",
    "Q": "Therapy functional information code: report it with the therapy service.",
}

# Modifiers whose own PFS row (when the file has one) a line is judged and priced by, in order of
# precedence: 83020-26 has its own row (status A, PC/TC 6) while 83020 is status X.
PFS_ROW_MODIFIERS = ("26", "TC", "53")


def pfs_modifier(modifiers: Iterable[str]) -> str:
    """The modifier whose PFS row a line with ``modifiers`` is judged by ('' for the code's own row)."""
    mods = set(modifiers)
    return next((m for m in PFS_ROW_MODIFIERS if m in mods), "")


# The PFS indicators as pages and the terminal name them.
INDICATOR_NAMES = {
    "pctc": "PC/TC indicator",
    "mult_proc": "Multiple procedure",
    "bilateral": "Bilateral surgery",
    "assistant": "Assistant at surgery",
    "co_surgeon": "Co-surgeons",
    "team": "Team surgery",
    "phys_supervision": "Physician supervision",
}
# Where the meanings of an indicator's values (``vocab/indicators.csv``) come from, for the
# indicators that govern no modifier (those that do name theirs in ``INDICATOR_RULES``). The
# physician supervision values (PPRRVU columns 142-143, "for use in post payment review") read the
# same in RVU25A.pdf, RVU25D.pdf and RVU26B.pdf.
INDICATOR_SOURCES = {
    "phys_supervision": "the CMS PFS relative value file record layout (RVU26B.pdf), "
    "field Physician Supervision of Diagnostic Procedures",
}

# The shares of a global surgical package (PPRRVU columns 107-115, RVU26B.pdf: fractions of the
# global amount, ".10" for 10%), in their order, as pages and answers name them.
GLOBAL_SHARE_NAMES = {
    "preop": "Pre-operative",
    "intraop": "Intra-operative (with the post-operative care in the hospital)",
    "postop": "Post-operative (in the office after discharge)",
}

# --- modifiers and indicators ---------------------------------------------------------------

ALLOWED, DOCUMENTATION, NOT_ALLOWED = "allowed", "with documentation", "not allowed"
VERDICT_SEVERITY = {DOCUMENTATION: "warn", NOT_ALLOWED: "deny"}

# The modifiers each PFS indicator governs, and the finding a line gets when they do not fit.
INDICATOR_MODIFIERS = {
    "pctc": ("26", "TC"),
    "bilateral": ("50",),
    "assistant": ("80", "81", "82", "AS"),
    "co_surgeon": ("62",),
    "team": ("66",),
}
ASSISTANT_MODIFIERS = frozenset(INDICATOR_MODIFIERS["assistant"])
INDICATOR_FINDING = {
    ("pctc", NOT_ALLOWED): "modifiers.pctc_mismatch",
    ("bilateral", NOT_ALLOWED): "modifiers.bilateral_not_allowed",
    ("assistant", NOT_ALLOWED): "modifiers.assistant_not_allowed",
    ("assistant", DOCUMENTATION): "modifiers.assistant_documentation",
    ("co_surgeon", NOT_ALLOWED): "modifiers.co_surgeon_not_allowed",
    ("co_surgeon", DOCUMENTATION): "modifiers.co_surgeon_documentation",
    ("team", NOT_ALLOWED): "modifiers.team_not_allowed",
    ("team", DOCUMENTATION): "modifiers.team_documentation",
}


@dataclass(frozen=True)
class IndicatorRule:
    """One value of a PFS indicator: CMS's definition (RVU26B.pdf, in short words), what it means
    for the modifiers the indicator governs, and the fix for a modifier that does not fit."""

    field: str
    value: str
    definition: str
    verdicts: dict[str, str]  # modifier -> ALLOWED, DOCUMENTATION or NOT_ALLOWED
    fix: str = ""  # for a modifier whose verdict is not ALLOWED
    source: str = "RVU26B.pdf"


def _rule(
    field: str, value: str, definition: str, verdict: str | dict[str, str], fix: str = "", source: str = "RVU26B.pdf"
) -> IndicatorRule:
    mods = INDICATOR_MODIFIERS[field]
    verdicts = dict.fromkeys(mods, verdict) if isinstance(verdict, str) else verdict
    return IndicatorRule(field, value, definition, verdicts, fix, source)


INDICATOR_RULES: dict[str, dict[str, IndicatorRule]] = {}
for _r in (
    # PC/TC indicator (RVU26B.pdf Attachment A, "PC/TC indicator")
    _rule(
        "pctc",
        "0",
        "Physician service: the PC/TC concept does not apply; modifiers 26 and TC cannot be used.",
        NOT_ALLOWED,
        "Remove {mod}: a physician service has no professional or technical component.",
    ),
    _rule(
        "pctc",
        "1",
        "Diagnostic test with a professional and a technical component: modifiers 26 and TC can be used.",
        ALLOWED,
    ),
    _rule(
        "pctc",
        "2",
        "Professional component only code (e.g. 93010): modifiers 26 and TC cannot be used.",
        NOT_ALLOWED,
        "Remove {mod}: the code itself is the professional component; bill the technical or global code for the rest.",
    ),
    _rule(
        "pctc",
        "3",
        "Technical component only code (e.g. 93005): modifiers 26 and TC cannot be used.",
        NOT_ALLOWED,
        "Remove {mod}: the code itself is the technical component; bill the professional "
        "component code for the interpretation.",
    ),
    _rule(
        "pctc",
        "4",
        "Global test only code (separate codes exist for each component): modifiers 26 and TC cannot be used.",
        NOT_ALLOWED,
        "Remove {mod}: bill the professional or technical component code instead.",
    ),
    _rule(
        "pctc",
        "5",
        "Incident-to service under direct supervision: modifiers 26 and TC cannot be used.",
        NOT_ALLOWED,
        "Remove {mod}: an incident-to service has no professional or technical component.",
    ),
    _rule(
        "pctc",
        "6",
        "Laboratory physician interpretation code: modifier TC cannot be used; the "
        "interpretation is billed with 26 (the test is paid under the lab fee schedule).",
        {"26": ALLOWED, "TC": NOT_ALLOWED},
        "Remove {mod}: the test itself is paid under the clinical lab fee schedule; bill the interpretation with 26.",
    ),
    _rule(
        "pctc",
        "7",
        "Physical therapy service not paid when furnished to a hospital patient by an independent "
        "therapist; the PDF names no 26 or TC use and the file has no component rows for these codes.",
        NOT_ALLOWED,
        "Remove {mod}: a therapy service has no professional or technical component.",
        "RVU26B.pdf (no component rows in the PFS file)",
    ),
    _rule(
        "pctc",
        "8",
        "Physician interpretation code (85060), itself the professional component of a lab "
        "test: no TC billing is recognized; the file has no 26 row.",
        NOT_ALLOWED,
        "Remove {mod}: the code itself is the physician's interpretation.",
        "RVU26B.pdf (TC); no 26 row in the PFS file (26)",
    ),
    _rule(
        "pctc",
        "9",
        "Not applicable: the PC/TC concept does not apply; 26 and TC have nothing to split.",
        NOT_ALLOWED,
        "Remove {mod}: the PC/TC concept does not apply to the code.",
    ),
    # Bilateral surgery indicator, modifier 50 (RVU26B.pdf, positions 117)
    _rule(
        "bilateral",
        "0",
        "150% bilateral adjustment does not apply: the adjustment is inappropriate "
        "(anatomy, or a unilateral code with a bilateral code beside it); 50 or RT and LT pay 100% once.",
        NOT_ALLOWED,
        "Remove 50; for two sides bill the bilateral code if there is one.",
    ),
    _rule("bilateral", "1", "150% bilateral adjustment applies with 50 (or RT and LT, or 2 units).", ALLOWED),
    _rule(
        "bilateral",
        "2",
        "150% adjustment does not apply: the RVUs already assume a bilateral procedure; 50 pays 100% once.",
        NOT_ALLOWED,
        "Remove 50: the code is already bilateral.",
    ),
    _rule(
        "bilateral",
        "3",
        "The usual bilateral adjustment does not apply: with 50 (or RT and LT) each side "
        "is paid at 100% (mostly radiology and other diagnostic tests).",
        ALLOWED,
    ),
    _rule(
        "bilateral",
        "9",
        "The bilateral concept does not apply.",
        NOT_ALLOWED,
        "Remove 50: the bilateral concept does not apply to the code.",
    ),
    # Assistant at surgery indicator, modifiers 80, 81, 82, AS (positions 118)
    _rule(
        "assistant",
        "0",
        "Assistant at surgery restricted unless documentation of medical necessity is submitted.",
        DOCUMENTATION,
        "Attach the operative note showing why an assistant was needed.",
    ),
    _rule(
        "assistant",
        "1",
        "Statutory restriction: an assistant at surgery may not be paid.",
        NOT_ALLOWED,
        "Remove the assistant line.",
    ),
    _rule("assistant", "2", "No restriction: an assistant at surgery may be paid.", ALLOWED),
    _rule(
        "assistant",
        "9",
        "The assistant at surgery concept does not apply.",
        NOT_ALLOWED,
        "Remove the assistant line: the concept does not apply to the code.",
    ),
    # Co-surgeons indicator, modifier 62 (position 119)
    _rule("co_surgeon", "0", "Co-surgeons not permitted.", NOT_ALLOWED, "Remove modifier 62."),
    _rule(
        "co_surgeon",
        "1",
        "Co-surgeons may be paid with documentation of the medical necessity of two surgeons.",
        DOCUMENTATION,
        "Attach the operative notes of both surgeons.",
    ),
    _rule(
        "co_surgeon", "2", "Co-surgeons permitted; no documentation if the two-specialty requirement is met.", ALLOWED
    ),
    _rule("co_surgeon", "9", "The co-surgeon concept does not apply.", NOT_ALLOWED, "Remove modifier 62."),
    # Team surgery indicator, modifier 66 (position 120)
    _rule("team", "0", "Team surgeons not permitted.", NOT_ALLOWED, "Remove modifier 66."),
    _rule(
        "team",
        "1",
        "Team surgeons may be paid with documentation of the medical necessity of a team; paid by report.",
        DOCUMENTATION,
        "Attach the operative notes of the team.",
    ),
    _rule("team", "2", "Team surgeons permitted; paid by report.", ALLOWED),
    _rule("team", "9", "The team surgery concept does not apply.", NOT_ALLOWED, "Remove modifier 66."),
):
    INDICATOR_RULES.setdefault(_r.field, {})[_r.value] = _r


def verdict(field: str, value: str | None, modifier: str) -> str | None:
    """ALLOWED, DOCUMENTATION or NOT_ALLOWED for ``modifier`` on a code whose ``field`` indicator is
    ``value`` (None when the indicator does not govern the modifier or the value is unknown)."""
    rule = INDICATOR_RULES.get(field, {}).get(value or "")
    return rule.verdicts.get(modifier) if rule else None


def indicator_misfits(
    indicators: Mapping[str, str | None], modifiers: Iterable[str]
) -> list[tuple[str, str, tuple[str, ...]]]:
    """(finding id, field, modifiers) for each indicator whose rule the line's modifiers break,
    in ``INDICATOR_MODIFIERS`` order; the modifiers of one finding are in the order there."""
    mods = set(modifiers)
    out = []
    for field, governed in INDICATOR_MODIFIERS.items():
        by_verdict: dict[str, list[str]] = {}
        for m in governed:
            if m in mods:
                v = verdict(field, indicators.get(field), m)
                if v in VERDICT_SEVERITY:
                    by_verdict.setdefault(v, []).append(m)
        for v in (NOT_ALLOWED, DOCUMENTATION):
            if v in by_verdict:
                out.append((INDICATOR_FINDING[(field, v)], field, tuple(by_verdict[v])))
    return out


# --- NCCI procedure-to-procedure edits ------------------------------------------------------

# The NCCI PTP-associated modifiers (NCCI Policy Manual for Medicare Services, chapter I, section E,
# revision 1/1/2026): they may bypass an edit whose modifier indicator is 1, when the clinical
# circumstances justify them and Medicare's restrictions on the modifier are met.
ANATOMIC_MODIFIERS = frozenset(
    "E1 E2 E3 E4 FA F1 F2 F3 F4 F5 F6 F7 F8 F9 TA T1 T2 T3 T4 T5 T6 T7 T8 T9 LT RT LC LD RC LM RI".split()
)
GLOBAL_SURGERY_MODIFIERS = frozenset("24 25 57 58 78 79".split())
OTHER_PTP_MODIFIERS = frozenset("27 59 91 XE XS XP XU".split())
PTP_MODIFIERS = ANATOMIC_MODIFIERS | GLOBAL_SURGERY_MODIFIERS | OTHER_PTP_MODIFIERS
# 59 and its subsets XE/XP/XS/XU mark a service distinct from other non-E/M services: "Modifier 59
# should not be appended to an E/M service. To report a separate and distinct E/M service with a
# non-E/M service performed on the same date, see modifier 25" (chapter I, E.d). They do not
# bypass an edit one of whose codes is an E/M service.
DISTINCT_MODIFIERS = ("59", "XE", "XP", "XS", "XU")
# Modifiers CPT defines for E/M services (24, 25, 27, 57): they count on an E/M line only.
EM_MODIFIERS = frozenset("24 25 27 57".split())


def ptp_bypass(
    mods_a: Iterable[str], em_a: bool, mods_b: Iterable[str], em_b: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(bypassing, reasons)`` for an edit with modifier indicator 1 between line a (column 1)
    and line b (column 2): the NCCI PTP-associated modifiers of either line that bypass it, and
    for those that do not, why (text without codes):

    - 59, XE, XP, XS, XU only where neither code is an E/M service (25 or 57 is the bypass there);
    - 24, 25, 27, 57 only on an E/M line;
    - anatomic modifiers only when both lines carry them and they show different sites (no
      modifier in common): same-side or one-sided anatomic modifiers do not show distinct sites;
    - 58, 78, 79, 91 on either line.
    """
    a, b = set(mods_a) & PTP_MODIFIERS, set(mods_b) & PTP_MODIFIERS
    used: set[str] = set()
    reasons: list[str] = []
    em = em_a or em_b
    for m in sorted(a | b):
        if m in ANATOMIC_MODIFIERS:
            continue
        if m in DISTINCT_MODIFIERS and em:
            reasons.append(f"{m} is not used with an E/M service")
        elif m in EM_MODIFIERS and not ((m in a and em_a) or (m in b and em_b)):
            reasons.append(f"{m} is for E/M services only")
        else:
            used.add(m)
    sites_a, sites_b = a & ANATOMIC_MODIFIERS, b & ANATOMIC_MODIFIERS
    if sites_a and sites_b and not sites_a & sites_b:
        used |= sites_a | sites_b
    elif sites_a & sites_b:
        reasons.append(f"{' '.join(sorted(sites_a & sites_b))} on both lines shows the same site")
    elif sites_a or sites_b:
        reasons.append(f"{' '.join(sorted(sites_a | sites_b))} on one line only does not show different sites")
    return tuple(sorted(used)), tuple(reasons)


# --- payment shares -------------------------------------------------------------------------

ASSISTANT_SHARE = {
    "80": Decimal("0.16"),
    "81": Decimal("0.16"),
    "82": Decimal("0.16"),
    "AS": Decimal("0.136"),
}  # AS: 85% of the 16% an assistant surgeon gets
CO_SURGEON_SHARE = Decimal("0.625")
BILATERAL_SHARE = Decimal("1.5")
# Modifier 50 by bilateral indicator (RVU26B.pdf): 1, the lower of the charge and 150% of the fee
# schedule amount; 3, each side at 100%, i.e. 200% for one line with 50. 0 and 2 pay 100% once
# (their 50 is denied by the modifier check); 9 does not apply.
BILATERAL_SHARES = {"1": BILATERAL_SHARE, "3": Decimal("2")}

# Status codes and the national payment (RVU26B.pdf Attachment A; "only RVUs associated with status
# codes of A, R, or T are used for Medicare payment"). A and T have a national amount (T only when
# no other PFS service is paid that day). R (restricted coverage: "if covered, the service is
# contractor priced") and C ("contractors price the code") are priced by the MAC: medcode shows no
# national amount for them, never $0.00. Every other status is not paid under the PFS.
NATIONALLY_PRICED_STATUSES = frozenset("AT")
CONTRACTOR_PRICED_STATUSES = frozenset("CR")
CONTRACTOR_PRICED = "contractor priced"
# T (injections): "only paid if there are no other services payable under the physician fee schedule
# billed on the same date by the same provider"; otherwise bundled into them.
ALONE_ONLY_STATUSES = frozenset("T")

# The OPPS imaging cap (Deficit Reduction Act 2005 s.5102(b); RVU26B.pdf "2026 OPPS Payment Amount"):
# the PPRRVU row's OPPS PE and MP RVUs priced with the same work RVU, GPCIs and conversion factor,
# and the lower of that and the PFS amount paid. Checked against RVU25A/D OPPSCAP files: every
# status A amount there is min(PFS, OPPS) by this formula.

# Multiple procedure indicator (PPRRVU column 116; RVU25A/D and RVU26B.pdf give the same values):
# what is reduced for the second and later services of a day, and by how much. "all": the whole
# amount (standard rule: 100%, 50%, 50% ...); "pe": the practice expense; "tc"/"pc": the technical
# or professional component (of a global service too). Indicator 3 lines rank with 2 under the
# standard rule; the endoscopy family rule (same endoscopic base code) comes first.
MULTIPLE_PROCEDURE_REDUCTION: dict[str, dict[str, Decimal]] = {
    "0": {},  # no adjustment
    "2": {"all": Decimal("0.5")},  # standard
    "3": {"all": Decimal("0.5")},  # endoscopy: family rule, then standard
    "4": {"tc": Decimal("0.5"), "pc": Decimal("0.05")},  # diagnostic imaging (TC 50% since 2010-07, PC 5% since 2017)
    "5": {"pe": Decimal("0.5")},  # therapy: 50% of the PE
    "6": {"tc": Decimal("0.25")},  # diagnostic cardiovascular (since 2013)
    "7": {"tc": Decimal("0.2")},  # diagnostic ophthalmology (since 2013)
    "9": {},  # concept does not apply
}
STANDARD_MULTIPLE_PROCEDURE = frozenset({"2", "3"})  # ranked together by fee schedule amount

# What may still be paid above the limit, by MUE adjudication indicator (CMS, NCCI MUE page and
# policy manual chapter I): MAI 1 judges each line, so more units on another line with a modifier
# that shows a distinct service; MAI 2 is policy, absolute even on appeal; MAI 3 is clinical,
# payable on appeal with the records.
MUE_BEYOND_LIMIT = {
    "1": "; more units on separate lines with 59/XE/XS/XU when documented.",
    "2": "; the limit is policy (MAI 2): units above it are not paid, even on appeal.",
    "3": "; units above it are paid only on appeal with the records (MAI 3).",
}
