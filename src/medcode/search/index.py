"""The search index, built by ingest into ``kb.sqlite`` from the tables already loaded.

One row of ``search_docs`` per code and code system: CPT/HCPCS codes from every PFS release
(descriptor and status of the newest release that has the code, valid from the first release's
start to the last one's end) and the HCPCS Level II file, ICD-10-CM codes and headers, HCPCS
Level II modifiers and the common CPT modifiers (``vocab/cpt_modifiers.tsv``). Two FTS5
tables index them: ``search_fts`` (Porter stems; title, terms, context) for word search and
``search_ac`` (whole words with prefix indexes) for autocomplete. ``search_words`` holds every
word with its document count, for spelling correction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import apsw

from medcode import vocab
from medcode.codes import system_of
from medcode.language.words import plain_description, stems, words

SCHEMA = """
CREATE TABLE search_docs (
  id INTEGER PRIMARY KEY, system TEXT NOT NULL, code TEXT NOT NULL, compact TEXT NOT NULL,
  title TEXT NOT NULL, plain TEXT, short TEXT, status TEXT, active INTEGER NOT NULL,
  billable INTEGER NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT NOT NULL,
  release_id INTEGER NOT NULL, terms TEXT NOT NULL, context TEXT NOT NULL,
  title_stems TEXT NOT NULL, alias_stems TEXT NOT NULL, terms_stems TEXT NOT NULL,
  context_stems TEXT NOT NULL
);
CREATE VIRTUAL TABLE search_fts USING fts5(
  title, terms, context, content='', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE search_ac USING fts5(
  words, content='', tokenize='unicode61 remove_diacritics 2', prefix='1 2 3', detail='column'
);
CREATE TABLE search_words (word TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID;
"""
INDEXES = """
CREATE INDEX search_docs_compact ON search_docs (compact, system);
"""
SYSTEM_ORDER = {"CPT": 0, "HCPCS": 1, "ICD-10-CM": 2, "modifier": 3}
# PFS status indicators of codes that are no longer (or never were) separately reportable.
INACTIVE_STATUS = frozenset({"D"})
LATE_STATUS = {"M": 2, "I": 1, "B": 1}  # quality measures, codes not valid for Medicare, bundled


@dataclass
class Doc:
    system: str
    code: str
    title: str
    release_id: int
    valid_from: str
    valid_to: str
    plain: str | None = None
    short: str | None = None
    status: str | None = None
    active: bool = True
    billable: bool = True
    terms: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)

    @property
    def compact(self) -> str:
        return self.code.replace(".", "")

    def order(self) -> tuple[int, int, int, int, str]:
        """Document ids follow this order: each code system in one block of ids (autocomplete
        reads one block at a time), active, billable, payable codes first within it."""
        return (
            SYSTEM_ORDER[self.system],
            not self.active,
            not self.billable,
            LATE_STATUS.get(self.status or "", 0),
            self.code,
        )


@dataclass(frozen=True)
class FileSpan:
    family: str
    effective_from: date
    effective_to: date


def _procedures(conn: apsw.Connection, spans: dict[int, FileSpan]) -> dict[tuple[str, str], Doc]:
    pfs_ids = sorted((i for i, s in spans.items() if s.family == "pprrvu"), key=lambda i: spans[i].effective_from)
    newest_pfs = pfs_ids[-1] if pfs_ids else None
    docs: dict[tuple[str, str], Doc] = {}
    seen: dict[str, list[int]] = {}
    rows = conn.execute("SELECT hcpcs, release_id, description, status FROM rvus WHERE modifier = ''").fetchall()
    by_code: dict[str, dict[int, tuple[str, str]]] = {}
    for code, rid, desc, status in rows:  # (column types from the schema)
        assert isinstance(code, str) and isinstance(rid, int)
        by_code.setdefault(code, {})[rid] = (str(desc), str(status))
        seen.setdefault(code, []).append(rid)
    for code, releases in by_code.items():
        ordered = sorted(releases, key=lambda i: spans[i].effective_from)
        last = ordered[-1]
        desc, status = releases[last]
        docs[(system_of(code), code)] = Doc(
            system=system_of(code),
            code=code,
            title=desc,
            release_id=last,
            valid_from=spans[ordered[0]].effective_from.isoformat(),
            valid_to=spans[last].effective_to.isoformat(),
            plain=plain_description(desc),
            short=desc,
            status=status,
            active=last == newest_pfs and status not in INACTIVE_STATUS,
        )
    hcpcs_ids = [i for i, s in spans.items() if s.family == "hcpcs"]
    if hcpcs_ids:
        newest = max(hcpcs_ids, key=lambda i: spans[i].effective_from)
        span = spans[newest]
        for code, rid, record, text in conn.execute(
            "SELECT code, release_id, record_id, group_concat(long_description, ' ') FROM "
            "(SELECT * FROM hcpcs_codes WHERE release_id = ? ORDER BY code, seqnum) "
            "GROUP BY code, record_id",
            (newest,),
        ):
            if record == "7":
                docs[("modifier", code)] = Doc(
                    "modifier", code, text, rid, span.effective_from.isoformat(), span.effective_to.isoformat()
                )
                continue
            key = (system_of(code), code)
            if key in docs:
                doc = docs[key]
                doc.terms.append(doc.title)  # the short descriptor stays searchable
                doc.title = text
            else:
                docs[key] = Doc(
                    system_of(code), code, text, rid, span.effective_from.isoformat(), span.effective_to.isoformat()
                )
    return docs


def _diagnoses(conn: apsw.Connection, spans: dict[int, FileSpan]) -> list[Doc]:
    ids = [i for i, s in spans.items() if s.family == "icd10cm"]
    if not ids:
        return []
    rid = max(ids, key=lambda i: spans[i].effective_from)
    span = spans[rid]
    rows = conn.execute(
        "SELECT code, kind, billable, parent, block, description FROM icd10cm_codes WHERE release_id = ? ORDER BY seq",
        (rid,),
    ).fetchall()
    titles: dict[tuple[bool, object], str] = {(kind == "block", code): str(desc) for code, kind, _, _, _, desc in rows}
    terms: dict[str, list[str]] = {}
    for code, text in conn.execute(
        "SELECT code, text FROM icd10cm_notes WHERE release_id = ? AND "
        "note_type IN ('inclusion_term', 'includes') ORDER BY seq",
        (rid,),
    ):
        terms.setdefault(code, []).append(text)
    docs = []
    for code, kind, billable, parent, block, desc in rows:
        if kind in ("chapter", "block"):
            continue
        assert isinstance(code, str) and isinstance(desc, str) and isinstance(block, str)
        context = [titles.get((True, block), "")]
        if parent and (False, parent) in titles:
            context.append(titles[(False, parent)])
        docs.append(
            Doc(
                "ICD-10-CM",
                code,
                desc,
                rid,
                span.effective_from.isoformat(),
                span.effective_to.isoformat(),
                status="billable" if billable else "header",
                billable=bool(billable),
                terms=terms.get(code, []),
                context=context,
            )
        )
    return docs


def _cpt_modifiers(docs: dict[tuple[str, str], Doc]) -> None:
    for code, text in vocab.cpt_modifiers().items():
        docs[("modifier", code)] = Doc("modifier", code, text, 0, "0001-01-01", "9999-12-31", status="CPT")


def build(conn: apsw.Connection, spans: dict[int, FileSpan]) -> int:
    """Create and fill the search tables in ``conn`` (inside the caller's transaction)."""
    conn.execute(SCHEMA)
    by_key = _procedures(conn, spans)
    _cpt_modifiers(by_key)
    docs = sorted([*by_key.values(), *_diagnoses(conn, spans)], key=Doc.order)
    lay = vocab.lay_descriptions()  # medcode's own plain-language descriptions (vocab/lay_*.tsv)
    for d in docs:
        if d.system != "modifier" and d.code in lay:
            d.terms.append(lay[d.code])
    counts: Counter[str] = Counter()
    rows, fts, ac = [], [], []
    for i, d in enumerate(docs, start=1):
        text = " ".join(x for x in (d.title, d.plain, d.short) if x)
        terms = " ".join(d.terms)
        context = " ".join(d.context)
        shown = stems(d.plain or d.title)
        alias = stems(text) - shown
        seen = shown | alias
        term_stems = stems(terms) - seen
        context_stems = stems(context) - seen - term_stems
        rows.append(
            (
                i,
                d.system,
                d.code,
                d.compact,
                d.title,
                d.plain,
                d.short,
                d.status,
                int(d.active),
                int(d.billable),
                d.valid_from,
                d.valid_to,
                d.release_id,
                terms,
                context,
                *(" ".join(sorted(x)) for x in (shown, alias, term_stems, context_stems)),
            )
        )
        fts.append((i, text, terms, context))
        ac.append((i, f"{text} {terms}"))
        counts.update({w for w in words(f"{text} {terms}") if len(w) > 2 and w.isalpha()})
    conn.executemany("INSERT INTO search_docs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.executemany("INSERT INTO search_fts (rowid, title, terms, context) VALUES (?,?,?,?)", fts)
    conn.executemany("INSERT INTO search_ac (rowid, words) VALUES (?,?)", ac)
    conn.executemany("INSERT INTO search_words VALUES (?,?)", sorted(counts.items()))
    conn.execute(INDEXES)
    conn.execute("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
    conn.execute("INSERT INTO search_ac (search_ac) VALUES ('optimize')")
    return len(rows)
