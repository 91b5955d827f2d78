"""The ICD-10-CM index reader (real files and hand-made broken ones), the terms of the concept index,
the lexical index, and concept lookups of ordinary clinical phrases."""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from pathlib import Path

import bm25s
import numpy as np
import pytest

from medcode.language import saved
from medcode.language.index import Candidate, concept_index, terms_key
from medcode.language.lexical import K1, B, LexicalIndex, normalise, weights, with_synonyms
from medcode.language.terms import Term, collect
from medcode.sources import icd10_index
from medcode.sources.layout import LayoutMismatch

HAND = Path(__file__).parent / "data" / "icd10_index"
FOLDER = "icd10/index-fy2025-april"

# (file, rows, rows by column) as the PROVENANCE file counts the code references (the external cause
# index adds 3 <seecat> references to its 6,661 <code>/<subcat> ones).
REAL = [
    (
        "icd-10-cm-drug-2025.xml",
        40026,
        {
            "Poisoning Accidental (unintentional)": 7202,
            "Poisoning Intentional self-harm": 7202,
            "Poisoning Assault": 7202,
            "Poisoning Undetermined": 7202,
            "Adverse effect": 5609,
            "Underdosing": 5609,
        },
    ),
    (
        "icd-10-cm-neoplasm-2025.xml",
        9018,
        {
            "Malignant Primary": 1726,
            "Malignant Secondary": 1641,
            "Ca in situ": 918,
            "Benign": 1606,
            "Uncertain Behavior": 1564,
            "Unspecified Behavior": 1563,
        },
    ),
    ("icd-10-cm-eindex-2025.xml", 6664, {"code": 6650, "subcat": 11, "seecat": 3}),
]


@pytest.mark.parametrize("name,rows,by_column", REAL, ids=[r[0] for r in REAL])
def test_real_index_files_read_whole(data_dir, name, rows, by_column):
    got = icd10_index.read(data_dir / FOLDER / name)
    assert len(got) == rows
    assert dict(Counter(r[3] for r in got)) == by_column


SPOT = [
    (
        "drug",
        (
            "drug",
            "Acetaminophen, poisoning, accidental (unintentional)",
            "T39.1X1",
            "Poisoning Accidental (unintentional)",
            272,
        ),
    ),
    ("drug-adverse", ("drug", "Acetaminophen, adverse effect", "T39.1X5", "Adverse effect", 276)),
    (
        "neoplasm",
        (
            "neoplasm",
            "Neoplasm, neoplastic, breast (connective tissue) (glandular tissue) (soft parts), malignant primary",
            "C50.9-",
            "Malignant Primary",
            2247,
        ),
    ),
    ("eindex", ("eindex", "Fall, falling (accidental), from, off, out of, ladder", "W11", "code", 20822)),
    (
        "eindex-subcat",
        ("eindex", "Burn, burned, burning (accidental) (by) (from) (on), lightning", "T75.0", "subcat", 13666),
    ),
    ("eindex-seecat", ("eindex", "Strangulation (accidental)", "T71", "seecat", 29164)),
]


@pytest.fixture(scope="module")
def index_rows(data_dir: Path) -> set[tuple[str, str, str, str, int]]:
    out: set[tuple[str, str, str, str, int]] = set()
    for name, _, _ in REAL:
        out.update(icd10_index.read(data_dir / FOLDER / name))
    return out


@pytest.mark.parametrize("row", [s[1] for s in SPOT], ids=[s[0] for s in SPOT])
def test_real_index_rows(index_rows, row):
    assert row in index_rows


def test_index_release_from_its_folder(data_dir):
    found = sorted(icd10_index.discover(data_dir), key=lambda sf: sf.path.name)
    assert [(sf.path.name, sf.family, sf.release, str(sf.effective_from), str(sf.effective_to)) for sf in found] == [
        ("icd-10-cm-drug-2025.xml", "icd10cm_index", "FY2025-APR", "2025-04-01", "2025-09-30"),
        ("icd-10-cm-eindex-2025.xml", "icd10cm_index", "FY2025-APR", "2025-04-01", "2025-09-30"),
        ("icd-10-cm-neoplasm-2025.xml", "icd10cm_index", "FY2025-APR", "2025-04-01", "2025-09-30"),
    ]


def test_hand_made_table_rows():
    quassia, accidental = "Quassia (bark) extract", "Poisoning Accidental (unintentional)"
    assert icd10_index.read(HAND / "good-drug.xml", "drug") == [
        ("drug", f"{quassia}, poisoning, accidental (unintentional)", "T49.0X1", accidental, 13),
        ("drug", f"{quassia}, topical, poisoning, accidental (unintentional)", "T49.0X1", accidental, 17),
        ("drug", f"{quassia}, topical, adverse effect", "T49.0X5", "Adverse effect", 18),
    ]


BROKEN = [
    ("truncated-eindex.xml", 9, "15", "not well-formed XML: no element found"),
    ("unknown-element-eindex.xml", 10, "<synonym>", "element <synonym> is not allowed in <mainTerm>"),
    ("bad-level-eindex.xml", 8, "<term> level", "level '2' under a level 0 term, expected 1"),
    ("bad-cell-neoplasm.xml", 14, "<cell>", "'C30.0/C31.9' is not an ICD-10-CM code"),
    ("missing-heading-drug.xml", 13, "<cell> col", "column 5 has no heading (or is the term column)"),
]


@pytest.mark.parametrize("name,line,field,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_index_files_name_file_line_and_field(name, line, field, message):
    path = HAND / name
    with pytest.raises(LayoutMismatch) as err:
        icd10_index.read(path, name.rsplit("-", 1)[1].removesuffix(".xml"))
    assert (err.value.file, err.value.line, err.value.column, err.value.message) == (str(path), line, field, message)


def test_index_loaded_at_ingest(kb):
    rows = kb.query(
        "SELECT r.family, r.release, t.kind, t.path_text, t.code, t.col, t.line FROM icd10cm_index_terms t"
        " JOIN releases r ON r.id = t.release_id WHERE t.code = 'W11' AND t.path_text LIKE 'Fall, falling%'"
        " ORDER BY t.line"
    )
    fall, release = "Fall, falling (accidental)", ("icd10cm_index", "FY2025-APR", "eindex")
    assert rows == [
        (*release, f"{fall}, down, ladder", "W11", "code", 20574),
        (*release, f"{fall}, from, off, out of, ladder", "W11", "code", 20822),
        (*release, f"{fall}, from, off, out of, stepladder", "W11", "code", 20957),
        (*release, f"{fall}, in, on, ladder", "W11", "code", 21110),
    ]
    assert kb.query("SELECT count(*) FROM icd10cm_index_terms") == [(55708,)]


# --- terms -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def terms(kb) -> list[Term]:
    return collect(kb)


TERMS = [
    ("icd-title", Term("C61", "ICD-10-CM", "Malignant neoplasm of prostate", "icd10cm:title")),
    ("icd-header", Term("C50.9", "ICD-10-CM", "Malignant neoplasm of breast of unspecified site", "icd10cm:title")),
    ("icd-inclusion", Term("T39.1X1", "ICD-10-CM", "Poisoning by 4-Aminophenol derivatives NOS", "icd10cm:inclusion")),
    ("drug", Term("T39.1X1", "ICD-10-CM", "Acetaminophen, poisoning, accidental (unintentional)", "icd10cm:drug")),
    (
        "neoplasm-dash",
        Term(
            "C50.9",
            "ICD-10-CM",
            "Neoplasm, neoplastic, breast (connective tissue) (glandular tissue) (soft parts), malignant primary",
            "icd10cm:neoplasm",
        ),
    ),
    ("eindex", Term("W11", "ICD-10-CM", "Fall, falling (accidental), from, off, out of, ladder", "icd10cm:eindex")),
    ("hcpcs-long", Term("E0607", "HCPCS", "Home blood glucose monitor", "hcpcs:long")),
    (
        "clfs-long",
        Term(
            "85025",
            "CPT",
            "Complete blood cell count (red cells, white blood cell, platelets), automated",
            "clfs:long",
        ),
    ),
]


@pytest.mark.parametrize("term", [t[1] for t in TERMS], ids=[t[0] for t in TERMS])
def test_terms_hold(terms, term):
    assert term in terms


def test_terms_leave_out_seventh_character_codes_and_repeats(terms):
    assert [t for t in terms if t.code in ("S72.001A", "T39.1X1A")] == []
    keys = [(t.code, t.text.casefold()) for t in terms]
    assert len(keys) == len(set(keys))
    assert {t.system for t in terms} == {"CPT", "HCPCS", "ICD-10-CM"}


def test_dedupe_keeps_the_first_source():
    from medcode.language.terms import dedupe

    got = dedupe(
        [
            Term("J13", "ICD-10-CM", "Pneumonia  due to Streptococcus pneumoniae", "icd10cm:title"),
            Term("J13", "ICD-10-CM", "pneumonia due to streptococcus pneumoniae", "medcode:plain"),
            Term("J13", "ICD-10-CM", "  ", "medcode:plain"),
            Term("J15", "ICD-10-CM", "Pneumonia due to Streptococcus pneumoniae", "icd10cm:title"),
        ]
    )
    assert got == [
        Term("J13", "ICD-10-CM", "Pneumonia due to Streptococcus pneumoniae", "icd10cm:title"),
        Term("J15", "ICD-10-CM", "Pneumonia due to Streptococcus pneumoniae", "icd10cm:title"),
    ]


# --- lexical -----------------------------------------------------------------------------------


NORMALISED = [
    ("stems-and-stopwords", "Injections of the knees", ["inject", "knee"]),
    ("abbreviation", "HTN", ["hypertens"]),
    ("separators-kept", "s/p fall", ["statu", "post", "fall"]),
    ("no-words", "of the and", []),
]


@pytest.mark.parametrize("text,words", [n[1:] for n in NORMALISED], ids=[n[0] for n in NORMALISED])
def test_normalise(text, words):
    assert normalise(text) == words


def test_weights_equal_bm25s():
    texts = [
        "Malignant neoplasm of prostate",
        "Benign neoplasm of prostate",
        "Home blood glucose monitor",
        "Blood glucose test strips, blood glucose monitor",
        "Fall from ladder",
        "",
    ]
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(w, len(vocab)) for w in normalise(t)] or [vocab.setdefault("", len(vocab))] for t in texts]
    data, indices, indptr = weights(ids, len(vocab))
    ref = bm25s.BM25(k1=K1, b=B, method="lucene").build_index_from_ids(
        list(range(len(vocab))), ids, show_progress=False
    )
    assert np.allclose(data, ref["data"], rtol=1e-6)
    assert indices.tolist() == ref["indices"].tolist()
    assert indptr.tolist() == ref["indptr"].tolist()


def test_lexical_search_or_semantics_and_order():
    index = LexicalIndex.build(
        ["Malignant neoplasm of prostate", "Benign neoplasm of prostate", "Home blood glucose monitor", "Prostate"]
    )
    got = index.search("malignant prostate tumour", 10)
    assert [pos for pos, _ in got] == [0, 3, 1]  # both words, then the shortest text with one
    assert index.search("prostate", 1)[0][0] == 3
    assert index.search("unheard-of words", 10) == []
    mask = np.array([False, True, True, True])
    assert [pos for pos, _ in index.search("malignant prostate", 10, mask)] == [3, 1]


def test_misspelt_words_are_read_as_the_nearest_word_of_the_texts():
    index = LexicalIndex.build(
        ["Bacterial pneumonia", "Acute sinusitis", "Pneumonitis due to inhalation", "Sinus pain"]
    )
    assert index.respell("pnuemonia, acute sinusitus; HTN x2 snus") == "pneumonia, acute sinusitis; HTN x2 snus"
    assert index.nearest("qwertyuiop") is None
    assert [pos for pos, _ in index.search("pnuemonia", 5)] == [0]


def test_lay_phrases_add_the_descriptor_words():
    assert (
        with_synonyms("Broken hip yesterday")
        == "Broken hip yesterday fracture of femur neck femur fracture femoral neck"
    )
    assert with_synonyms("fever") == "fever"


# --- concept lookup ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def concepts(kb):
    return concept_index(kb)


def test_codes_ranked_by_their_best_terms():
    from medcode.language.index import _code_ranks

    terms = [Term(c, "ICD-10-CM", f"t{i}", "icd10cm:title") for i, c in enumerate(["A00", "B00", "B00", "C00", "B00"])]
    hits = [(0, 5.0), (1, 4.8), (2, 4.8), (3, 1.0), (4, 0.5)]
    assert _code_ranks(hits, terms) == {"A00": (1, 0), "B00": (2, 1), "C00": (3, 3)}
    assert _code_ranks(hits, terms, 0.1) == {"B00": (1, 1), "A00": (2, 0), "C00": (3, 3)}  # 4.8 + 0.1 * (4.8 + 0.5)


def test_concept_index_is_built_once_and_keyed_by_its_texts(kb, concepts):
    assert concept_index(kb) is concepts
    assert concepts.key == terms_key(concepts.terms)
    assert len(concepts.key) == 64


def test_saved_index_loads_whole(tmp_path, kb, concepts):
    where = saved.save(tmp_path, kb.path, concepts.terms, concepts.lexical)
    assert where is not None and where.parent == tmp_path / "cache" / "language"
    terms, lexical = saved.load(tmp_path, kb.path)
    assert terms == concepts.terms
    assert lexical.vocab == concepts.lexical.vocab and lexical.size == concepts.lexical.size
    assert lexical.spelled == concepts.lexical.spelled and lexical.spelled["pneumonia"] > 100
    for name in ("data", "indices", "indptr"):
        assert getattr(lexical, name).tolist() == getattr(concepts.lexical, name).tolist()
    (where / "lexical.npz").write_bytes(b"damaged")
    assert saved.load(tmp_path, kb.path) is None
    older = where.parent / ("0" * 32)
    shutil.copytree(where, older)  # an index of the same build by another version: replaced
    gone = where.parent / ("1" * 32)
    shutil.copytree(where, gone)
    manifest = json.loads((gone / "manifest.json").read_text())
    (gone / "manifest.json").write_text(json.dumps({**manifest, "build": str(tmp_path / "no-such-build")}))
    shutil.rmtree(where)
    assert saved.save(tmp_path, kb.path, concepts.terms, concepts.lexical) == where
    assert sorted(p.name for p in where.parent.iterdir()) == [where.name]


LOOKUPS = [
    ("strep-pneumonia", "pneumonia due to streptococcus pneumoniae", "J13"),
    ("glucose-monitor", "home blood glucose monitor", "E0607"),
    ("dog-bite", "bitten by a dog", "W54.0"),
    ("acetaminophen", "accidental poisoning by acetaminophen", "T39.1X1"),
    ("prostate-cancer", "malignant neoplasm of prostate", "C61"),
    ("liver-metastasis", "secondary malignancy of liver", "C78.7"),
    ("ladder", "fell off a ladder", "W11"),
    ("warfarin", "adverse effect of warfarin", "T45.515"),
    ("ankle-sprain", "sprain of right ankle", "S93.401"),
    ("a1c", "hba1c", "83036"),
    ("lipids", "lipid panel", "80061"),
    ("cpap", "cpap machine", "E0601"),
    ("chest-xray", "chest x-ray two views", "71046"),
    ("iron-anemia", "iron deficiency anemia", "D50.9"),
    ("uti", "urinary tract infection", "N39.0"),
    ("misspelt", "acute apendicitis", "K35.80"),
]


@pytest.mark.parametrize("text,code", [x[1:] for x in LOOKUPS], ids=[x[0] for x in LOOKUPS])
def test_lookup_finds_the_code_in_the_top_ten(concepts, text, code):
    got = concepts.lookup(text, 10, semantic=False)
    assert code in [c.code for c in got]


def test_lookup_candidate_and_systems(concepts):
    (first,) = concepts.lookup("home blood glucose monitor", 1, semantic=False)
    assert first == Candidate("E0607", "HCPCS", 1 / 61, "Home blood glucose monitor", "hcpcs:long", 1, None)
    got = concepts.lookup("fracture", 30, systems=("CPT",), semantic=False)
    assert len(got) == 30 and {c.system for c in got} == {"CPT"}
    with pytest.raises(ValueError, match="unknown code system 'ICD9'"):
        concepts.lookup("fracture", 5, systems=("ICD9",))
    assert concepts.lookup("", 5) == []


def test_semantic_ranking_is_fused_when_the_embeddings_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDCODE_EMBED", "background")  # (the tests' default is off: words only)
    from medcode.language import vectors
    from medcode.language.index import ConceptIndex
    from medcode.language.vectors import Vectors

    terms = [
        Term("I21.9", "ICD-10-CM", "Acute myocardial infarction, unspecified", "icd10cm:title"),
        Term("I50.9", "ICD-10-CM", "Heart failure, unspecified", "icd10cm:title"),
        Term("S83.6", "ICD-10-CM", "Sprain of other parts of knee", "icd10cm:title"),
        Term("E0607", "HCPCS", "Home blood glucose monitor", "hcpcs:long"),
    ]
    index = ConceptIndex.build(terms, tmp_path)
    assert not index.semantic_ready()
    assert [c.code for c in index.lookup("heart pain", 5)] == ["I50.9"]  # lexical only: the word "heart"
    assert Vectors.open(tmp_path, index.key, index.texts).build()
    time.sleep(vectors.RECHECK_SECONDS)  # (a cache found missing is looked for again after this long)
    assert index.semantic_ready()
    got = index.lookup("heart pain", 2)
    assert [(c.code, c.lexical, c.semantic) for c in got] == [("I50.9", 1, 1), ("I21.9", None, 2)]
    assert got[0].score == pytest.approx(2 / 61) and got[1].score == pytest.approx(1 / 62)
    assert [c.code for c in index.lookup("heart pain", 2, semantic=False)] == ["I50.9"]
    assert [c.code for c in index.lookup("heart pain", 1, systems=("HCPCS",))] == ["E0607"]
    monkeypatch.setenv("MEDCODE_EMBED", "off")  # off: words only, even with the cache built
    assert [c.code for c in ConceptIndex.build(terms, tmp_path).lookup("heart pain", 2)] == ["I50.9"]
