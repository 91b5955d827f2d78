"""Every interface over every code in the knowledge base: no exception and no server error.

Each CPT/HCPCS code (on the date of the newest fee schedule release that has it) and each ICD-10-CM
code goes through the Python API (``get_code``), the ``medcode show`` command in-process (human
output and ``--json``), and, over real HTTP against ``medcode serve``, the JSON API
``/api/codes/{code}`` and the HTML page ``/codes/{code}``; every modifier page too. Each procedure
code is also shown with a ZIP code and on the date of the oldest fee schedule release, each ICD
code on a date before its release (the release notice path). HTTP requests run in threads on one
pooled client while the in-process part runs in two worker processes, so both cores work.

Measured (2026-12, 21,264 procedure codes, 98,186 ICD-10-CM codes, 422 modifiers): about 870 CPU
seconds in all (in-process 10 ms a procedure code and 2.9 ms an ICD code; server 4.9 and 1.6 ms;
HTTP client 1.3 and 0.9 ms), so about 7 minutes on an idle 2-core machine; 20 minutes while other
test runs loaded the machine 6 times over.
"""

from __future__ import annotations

import contextlib
import html
import io
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import orjson
import pytest

from medcode import cli, vocab
from medcode.codes import UnknownCode
from medcode.kb.store import KnowledgeBase, open_kb
from medcode.lookup import get_code

ZIP = "10001"
ICD_EARLIER = date(2025, 5, 1)  # before the only ICD-10-CM release loaded: the notice path


@dataclass(frozen=True)
class Case:
    code: str
    day: date | None  # None: the newest releases
    found: bool  # False: only in the NCCI add-on file (a deleted code), answered as not found


def _procedure_cases(kb: KnowledgeBase) -> list[Case]:
    """Every CPT/HCPCS code of every table, on the newest fee schedule date that has it."""
    releases = kb.releases["pprrvu"]
    newest_with: dict[str, date | None] = {}
    for rel in releases:  # oldest first: the newest release wins
        day = None if rel is releases[-1] else rel.effective_from
        for (code,) in kb.query("SELECT DISTINCT hcpcs FROM rvus WHERE release_id = ?", (rel.ids[0],)):
            newest_with[code] = day
    modifiers = {c for (c,) in kb.query("SELECT DISTINCT code FROM hcpcs_codes WHERE record_id = '7'")}
    presence = {c: m for c, m in kb.query("SELECT code, mask FROM code_presence")}
    addon_only = 0b110000  # aoc_edits as add-on or primary code only (schema.PRESENCE bits 4 and 5)
    cases = [Case(c, d, True) for c, d in newest_with.items()]
    cases += [
        Case(c, None, bool(m & ~addon_only)) for c, m in presence.items() if c not in newest_with and c not in modifiers
    ]
    return sorted(cases, key=lambda x: x.code)


def _icd_cases(kb: KnowledgeBase) -> list[Case]:
    rows = kb.query("SELECT DISTINCT code FROM icd10cm_codes WHERE kind NOT IN ('chapter', 'block')")
    return [Case(c, None, True) for (c,) in rows]


def _modifiers(kb: KnowledgeBase) -> list[str]:
    level2 = {c for (c,) in kb.query("SELECT DISTINCT code FROM hcpcs_codes WHERE record_id = '7'")}
    return sorted(level2 | set(vocab.cpt_modifiers()))


def _run_cli(argv: list[str]) -> tuple[int, str, str]:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(argv)
    out.flush()
    return status, out.buffer.getvalue().decode("utf-8"), err.getvalue()


BOTH = (("--json",), ())  # the CLI's JSON and human output


def _in_process(
    kb: KnowledgeBase,
    code: str,
    day: date | None,
    zip_code: str | None,
    expect: bool | None,
    modes: tuple[tuple[str, ...], ...] = BOTH,
) -> Iterator[str]:
    """The failures of the API and the CLI for one code (nothing when all is well). ``expect``: found
    (True), not found (False) or either (None: a date on which the code may not exist yet)."""
    where = " ".join([code] + (["--date", day.isoformat()] if day else []) + (["--zip", zip_code] if zip_code else []))
    try:
        page = get_code(kb, code, day=day, zip_code=zip_code)
        orjson.dumps(page)  # what the CLI and the API print
        if expect is False:
            yield f"{where}: get_code found a code that only the add-on file has"
        elif page.code != code and expect:  # on a date without the HCPCS code M0235, ICD-10-CM M02.35 answers
            yield f"{where}: get_code answered {page.code}"
    except UnknownCode:
        if expect:
            yield f"{where}: get_code says not found"
    except Exception as exc:  # noqa: BLE001 (the sweep lists every failure)
        yield f"{where}: get_code raised {type(exc).__name__}: {exc}"
    for mode in modes:
        argv = ["show", *where.split(), *mode]
        try:
            status, out, err = _run_cli(argv)
        except Exception as exc:  # noqa: BLE001
            yield f"{' '.join(argv)}: raised {type(exc).__name__}: {exc}"
            continue
        allowed = {True: {0}, False: {cli.EXIT_NOT_FOUND}, None: {0, cli.EXIT_NOT_FOUND}}[expect]
        if status not in allowed or "Traceback" in err:
            yield f"{' '.join(argv)}: exit {status}: {err.strip()[:200]}"
        elif status == 0 and mode and expect and orjson.loads(out)["code"] != code:
            yield f"{' '.join(argv)}: another code in the output"
        elif status == 0 and not mode and code not in out:
            yield f"{' '.join(argv)}: the human output does not name the code"


def _http(client: httpx.Client, path: str, found: bool) -> str | None:
    """The failure of one request, or None."""
    try:
        r = client.get(path)
    except httpx.HTTPError as exc:
        return f"{path}: {type(exc).__name__}: {exc}"
    if r.status_code != (200 if found else 404):
        return f"{path}: HTTP {r.status_code}: {r.text[:200]}"
    return None


def _paths(cases: list[Case], modifiers: list[str]) -> Iterator[tuple[str, bool]]:
    for case in cases:
        query = f"?date={case.day.isoformat()}" if case.day else ""
        yield f"/api/codes/{case.code}{query}", case.found
        yield f"/codes/{case.code}{query}", case.found
    for m in modifiers:
        yield f"/modifiers/{m}", True


def _sweep(server: str, paths: list[tuple[str, bool]], threads: int = 4) -> tuple[list[str], Callable[[], None]]:
    """Start the HTTP part in the background: (the failures, filled as it goes; wait for the end)."""
    failures: list[str] = []
    client = httpx.Client(
        base_url=server, timeout=120, limits=httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    )
    pool = ThreadPoolExecutor(threads)

    def one(item: tuple[str, bool]) -> None:
        problem = _http(client, *item)
        if problem:
            failures.append(problem)

    futures = [pool.submit(one, item) for item in paths]

    def wait() -> None:
        for f in futures:
            f.result()
        pool.shutdown()
        client.close()

    return failures, wait


def _part(home: str, procedures: list[Case], diagnoses: list[Case], oldest: date) -> list[str]:
    """The in-process part over some of the codes, in a worker process of its own (both cores work)."""
    os.environ["MEDCODE_HOME"] = home  # for the CLI
    kb = open_kb(Path(home))
    failures: list[str] = []
    for case in procedures:
        failures.extend(_in_process(kb, case.code, case.day, None, case.found))
        if case.found:  # with a ZIP code (the locality price) and on the oldest fee schedule's date
            failures.extend(_in_process(kb, case.code, case.day, ZIP, True, modes=((),)))
            if case.day != oldest:
                failures.extend(_in_process(kb, case.code, oldest, None, None, modes=()))
    for case in diagnoses:
        failures.extend(_in_process(kb, case.code, None, None, True))
        failures.extend(_in_process(kb, case.code, ICD_EARLIER, None, True, modes=()))
    return failures


WORKERS = 2


@pytest.mark.slow
def test_every_interface_on_every_code(kb: KnowledgeBase, home: Path, server: str) -> None:
    started = time.perf_counter()
    procedures, diagnoses, modifiers = _procedure_cases(kb), _icd_cases(kb), _modifiers(kb)
    assert len(procedures) > 20_000 and len(diagnoses) > 90_000 and len(modifiers) > 300
    oldest = kb.releases["pprrvu"][0].effective_from
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = [
            pool.submit(_part, str(home), procedures[i::WORKERS], diagnoses[i::WORKERS], oldest) for i in range(WORKERS)
        ]
        http_failures, http_done = _sweep(server, list(_paths(procedures + diagnoses, modifiers)))
        http_done()
        failures = [f for part in parts for f in part.result()] + http_failures
    seconds = time.perf_counter() - started
    print(
        f"sweep: {len(procedures):,} procedure codes, {len(diagnoses):,} ICD-10-CM codes, {len(modifiers)} "
        f"modifiers in {seconds:.0f} s"
    )
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(sorted(failures)[:200])


@pytest.mark.parametrize(
    "path,texts",
    [
        (
            "/codes/86153?date=2026-06-01",
            [
                "No fee schedule row for 86153 without a modifier in RVU26B: the rows with a modifier are below.",
                "86153-26 A: Active code: paid separately under the physician fee schedule when covered. "
                "6 0.67 0.3 / 0.3 0.02 0.99 / 0.99 $33.07 $33.07",
            ],
        ),
        (
            "/codes/71046",
            [
                "71046-TC A: Active code: paid separately under the physician fee schedule when covered. 1 "
                "0.0 0.68 / 0.68 (NA) 0.01 0.69 / 0.69 $23.05 n/a"
            ],
        ),
        (
            "/codes/45378",
            [
                "45378-53 A: Active code: paid separately under the physician fee schedule when covered. 0 "
                "1.59 3.87 / 0.67 0.21 5.67 / 2.47 $189.38 $82.50"
            ],
        ),
        ("/codes/45380", ["Endoscopic base code 45378 Diagnostic colonoscopy"]),
        (
            "/codes/S06.0X1A",
            [
                "Inclusion terms of S06.0X1 From the base code, S06.0X1: S06.0X1A is that code with a 7th "
                "character. Concussion with brief loss of consciousness"
            ],
        ),
        (
            "/codes/E11.A?date=2025-05-01",
            [
                "No icd10cm release in force on 2025-05-01 is loaded; using FY2026-APR "
                "(effective 2026-04-01 to 2026-09-30), the earliest release loaded."
            ],
        ),
        (
            "/codes/83020",
            [
                "No clfs release in force on 2026-04-01 is loaded; using 2025Q1 (effective 2025-01-01 to "
                "2025-03-31), the latest earlier release."
            ],
        ),
    ],
    ids=["only-a-26-row", "26-and-tc", "53", "endoscopic-base", "base-inclusion-terms", "icd-notice", "lab-notice"],
)
def test_code_pages_show_modifier_rows_base_codes_and_notices(server: str, path: str, texts: list[str]) -> None:
    r = httpx.get(server + path, timeout=60)
    shown = " ".join(re.sub(r"<[^>]+>", " ", html.unescape(r.text)).split())
    assert r.status_code == 200
    for text in texts:
        assert text in shown


@pytest.mark.parametrize("code", ["B20", "F99", "P84", "R99", "Z66"])
def test_billable_categories_alone_in_their_block_have_no_children_on_their_page(server: str, code: str) -> None:
    page = httpx.get(f"{server}/codes/{code}", timeout=60).text
    api = httpx.get(f"{server}/api/codes/{code}", timeout=60).json()
    assert ("Codes under" in page, api["children"], api["billable"]) == (False, [], True)
