"""The semantic step of the clinical language layer: the pinned model, its embeddings, the cache.

Everything runs the real all-MiniLM-L6-v2 int8 model; nothing is mocked.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from medcode import settings
from medcode.kb.store import KnowledgeBase
from medcode.language.embed import (
    DIMENSION,
    MODEL_SHA256,
    TOKENIZER_SHA256,
    EmbeddingFileError,
    Encoder,
    encoder,
    model_path,
    sha256_of,
    tokenizer_path,
)
from medcode.language.scorer import Int8Scorer, quantize
from medcode.language.vectors import Vectors, cache_dir

# Our own phrases: (anchor, a phrase meaning much the same, a phrase about something else).
PAIRS = [
    ("heart attack", "acute myocardial infarction", "ingrown toenail"),
    ("high blood pressure", "essential hypertension", "fracture of the left wrist"),
    ("broken wrist", "fracture of distal radius", "type 2 diabetes mellitus"),
    ("sugar diabetes", "type 2 diabetes mellitus without complications", "removal of earwax"),
    ("kidney stone", "calculus of kidney", "pregnancy test"),
    ("water pill", "diuretic", "knee arthroscopy"),
    ("pink eye", "acute conjunctivitis", "chronic kidney disease stage 3"),
    ("stomach flu", "viral gastroenteritis", "cataract extraction with lens implant"),
    ("shortness of breath", "dyspnea", "skin tag removal"),
    ("chest x-ray", "radiologic examination of chest", "colonoscopy with polyp removal"),
]


@pytest.fixture(scope="module")
def enc() -> Encoder:
    return encoder()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


@pytest.mark.parametrize(
    ("path", "expected"),
    [(model_path(), MODEL_SHA256), (tokenizer_path(), TOKENIZER_SHA256)],
    ids=["model", "tokenizer"],
)
def test_installed_files_are_the_pinned_ones(path: Path, expected: str) -> None:
    assert sha256_of(path) == expected


@pytest.mark.parametrize("which", ["model", "tokenizer"], ids=["model", "tokenizer"])
def test_tampered_file_is_refused(tmp_path: Path, which: str) -> None:
    original = model_path() if which == "model" else tokenizer_path()
    copy = tmp_path / original.name
    shutil.copyfile(original, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    actual = sha256_of(copy)
    expected = MODEL_SHA256 if which == "model" else TOKENIZER_SHA256
    with pytest.raises(EmbeddingFileError) as err:
        Encoder(1, **{which: copy})  # type: ignore[arg-type]
    kind = "embedding model" if which == "model" else "embedding tokenizer"
    assert str(err.value) == (
        f"{kind} {copy}: sha256 is {actual}, expected {expected}; the file is not the pinned one "
        "(reinstall the package at the pinned version)"
    )


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingFileError, match=r"^embedding model .*nothing\.onnx: cannot be read"):
        Encoder(1, model=tmp_path / "nothing.onnx")


def test_embeddings_are_unit_vectors_and_deterministic(enc: Encoder) -> None:
    texts = [a for a, _, _ in PAIRS]
    first, second = enc.encode(texts), enc.encode(list(texts))
    assert first.shape == (len(texts), DIMENSION)
    assert first.dtype == np.float32
    assert np.array_equal(first, second)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    # a text alone and the same text padded in a batch of longer ones: the mask keeps them equal
    alone = enc.encode([texts[0]])[0]
    assert cosine(alone, first[0]) > 0.9999


def test_a_fresh_encoder_gives_the_same_vectors(enc: Encoder) -> None:
    texts = ["Osteoarthritis of right knee", "Insertion of antibiotic spacer"]
    assert np.allclose(Encoder(1).encode(texts), enc.encode(texts), atol=1e-5)


def test_long_texts_are_cut_at_128_tokens(enc: Encoder) -> None:
    long = " ".join(["fracture"] * 400)
    assert [len(ids) for ids in enc.token_ids([long, "knee pain"])] == [128, 4]
    assert enc.encode([long]).shape == (1, DIMENSION)


def test_encode_refuses_a_bare_string(enc: Encoder) -> None:
    with pytest.raises(TypeError, match="a list of texts"):
        enc.encode("knee pain")  # type: ignore[arg-type]


@pytest.mark.parametrize(("anchor", "related", "unrelated"), PAIRS, ids=[p[0] for p in PAIRS])
def test_related_phrases_are_closer_than_unrelated_ones(
    enc: Encoder, anchor: str, related: str, unrelated: str
) -> None:
    a, r, u = enc.encode([anchor, related, unrelated])
    assert cosine(a, r) > cosine(a, u) + 0.1


# -- the cache -------------------------------------------------------------------------------------

OWN_TEXTS = [related for _, related, _ in PAIRS]


@pytest.fixture(scope="module")
def texts(kb: KnowledgeBase) -> list[str]:
    """About 300 real ICD-10-CM titles (with a repeat) and our own phrases."""
    rows = kb.conn.execute(
        "SELECT DISTINCT description FROM icd10cm_codes WHERE code LIKE 'M17%' OR code LIKE 'I2%' "
        "OR code LIKE 'S52.5%' ORDER BY description LIMIT 300"
    ).fetchall()
    titles = [r[0] for r in rows]
    assert len(titles) == 300
    return titles[:150] + OWN_TEXTS + titles[150:] + titles[:3]


def test_int8_scores_are_within_0_005_of_the_exact_ones() -> None:
    rng = np.random.default_rng(13)
    matrix = rng.standard_normal((5000, DIMENSION)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    rows, scales = quantize(matrix)
    assert (rows.dtype, rows.shape, scales.shape) == (np.int8, (5000, DIMENSION), (5000,))
    scorer = Int8Scorer(rows, scales, threads=1)
    for query in matrix[:20]:
        error = np.abs(scorer.scores(query) - matrix @ query).max()
        assert error < 0.005


def test_cache_key_must_be_a_plain_name(tmp_path: Path) -> None:
    assert cache_dir(tmp_path, "ab12") == tmp_path / "cache" / "embeddings" / "ab12"
    for bad in ("../x", "", ".hidden", "a/b"):
        with pytest.raises(ValueError, match="embedding cache key"):
            cache_dir(tmp_path, bad)


def test_killed_build_resumes_and_equals_a_one_shot_build(tmp_path: Path, texts: list[str]) -> None:
    distinct = len(set(texts))
    chunks = (distinct + 63) // 64
    whole = Vectors.open(tmp_path / "a", "k1", texts, chunk=64)
    assert not whole.ready()
    assert whole.search("knee", 3) == []
    seen: list[tuple[int, int]] = []
    assert whole.build(lambda done, total: seen.append((done, total)))
    assert whole.written == chunks
    assert seen[-1] == (len(texts), len(texts))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    parts = Vectors.open(tmp_path / "b", "k1", texts, chunk=64)
    assert parts.build(stop_after=2) is False  # as if killed after two chunks
    on_disk = sorted(p.name for p in (parts.directory / "chunks").glob("*.npy"))
    assert on_disk == ["00000.npy", "00001.npy"]
    assert not parts.ready()
    (parts.directory / "chunks" / "00001.npy").write_bytes(b"torn write")  # a damaged chunk is encoded again
    assert parts.build() is True
    assert parts.written == chunks - 1
    assert not (parts.directory / "chunks").exists()
    assert np.array_equal(np.asarray(parts.matrix()), np.asarray(whole.matrix()))

    manifest = json.loads((parts.directory / "manifest.json").read_text())
    del manifest["built"]
    assert manifest == {
        "format": 2,
        "key": "k1",
        "count": len(texts),
        "dimension": DIMENSION,
        "dtype": "float32",
        "model_sha256": MODEL_SHA256,
    }
    reopened = Vectors.open(tmp_path / "b", "k1", texts)
    assert reopened.ready()
    assert isinstance(reopened.matrix(), np.memmap)
    # repeated texts share a row; rows follow the caller's order, not the build's length order
    assert np.array_equal(reopened.matrix()[-1], reopened.matrix()[2])
    assert np.allclose(reopened.matrix()[150], encoder().encode([texts[150]])[0], atol=1e-5)

    # the same key with other texts (a changed count) is not taken for built
    assert not Vectors.open(tmp_path / "b", "k1", texts[:-1]).ready()

    # search: a paraphrase finds the phrase it paraphrases among its 5 nearest (of 300 real titles)
    for anchor, related, _ in PAIRS:
        nearest = [texts[i] for i, _ in reopened.search(anchor, 5)]
        assert related in nearest, (anchor, nearest)
    hits = reopened.search(texts[10], 3)
    assert hits[0][0] == 10 and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert len(reopened.search("knee", len(texts) + 5)) == len(texts)

    # the int8 pass (used on big matrices) then exact re-scoring gives the exact answer
    fast = Vectors.open(tmp_path / "b", "k1", texts)
    fast.exact_below = 0
    for query in ["heart attack", "arthritis of the knee", "broken arm"]:
        quick, exact = fast.search(query, 20), reopened.search(query, 20)
        assert [i for i, _ in quick] == [i for i, _ in exact], query
        assert np.allclose([s for _, s in quick], [s for _, s in exact], atol=1e-6), query
    assert fast.scorer() is not None


def test_a_build_killed_by_a_signal_resumes(tmp_path: Path, texts: list[str]) -> None:
    """A real process killed part way leaves finished chunks that the next build keeps."""
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    script = (
        "import json, sys; from pathlib import Path; from medcode.language.vectors import Vectors\n"
        "t = json.loads(Path(sys.argv[1]).read_text())\n"
        "Vectors.open(Path(sys.argv[2]), 'k2', t, chunk=16).build(threads=1, batch=8)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "texts.json"), str(tmp_path)])
    chunks = tmp_path / "cache" / "embeddings" / "k2" / "chunks"
    deadline = time.monotonic() + 120
    while len(list(chunks.glob("*.npy"))) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    kept = len(list(chunks.glob("*.npy")))
    assert kept >= 3
    vectors = Vectors.open(tmp_path, "k2", texts, chunk=16)
    assert vectors.build()
    total = (len(set(texts)) + 15) // 16
    assert vectors.written in (total - kept, total - kept + 1)  # the chunk being written at the kill is redone


def test_a_second_builder_gives_way_while_the_lock_is_held(tmp_path: Path) -> None:
    vectors = Vectors.open(tmp_path, "k3", ["knee pain", "hip pain"])
    vectors.directory.mkdir(parents=True)
    with (vectors.directory / "build.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert vectors.build(wait=False) is False
        vectors.start_background()  # gives way too: nothing is built while another holds the lock
        time.sleep(0.5)
        assert not vectors.ready()
    assert not (vectors.directory / "manifest.json").exists()


def test_background_build_finishes_and_search_answers(tmp_path: Path) -> None:
    phrases = OWN_TEXTS + ["closed fracture of the neck of the femur", "cellulitis of the left leg"]
    vectors = Vectors.open(tmp_path, "k4", phrases)
    vectors.start_background()
    vectors.start_background()  # one thread per key
    deadline = time.monotonic() + 60
    while not vectors.ready() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert vectors.ready()
    assert [phrases[i] for i, _ in vectors.search("broken hip", 1)] == ["closed fracture of the neck of the femur"]


@pytest.mark.parametrize(
    ("value", "mode"),
    [(None, "background"), ("background", "background"), ("wait", "wait"), ("off", "off")],
    ids=["default", "background", "wait", "off"],
)
def test_embed_setting(value: str | None, mode: str) -> None:
    env = {} if value is None else {"MEDCODE_EMBED": value}
    assert settings.load(env).embed == mode


def test_embed_setting_refuses_other_values() -> None:
    with pytest.raises(settings.SettingError, match=r"^MEDCODE_EMBED must be one of background, wait, off, not 'yes'$"):
        settings.load({"MEDCODE_EMBED": "yes"})
