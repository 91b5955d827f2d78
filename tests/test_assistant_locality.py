"""CasePilot's locality answers (assistant/answers_locality.py) and the pricing functions they read
(zip_locality, gpci_row, state_localities, state_names), checked against the official files read
here with the csv module: the ZIP-to-locality file, the GPCI files of 2025 and 2026 and the county
file. Every number an answer states must be in a row it cites (read from the file, not the KB)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest

from medcode.assistant import answerers, ask
from medcode.assistant.answers_facts import CODE_LIKE
from medcode.assistant.answers_locality import answer_locality
from medcode.assistant.model import Answer, Question
from medcode.pricing import (
    WORK_FLOOR_LAST_DAY,
    UnknownLocality,
    gpci_row,
    state_localities,
    state_names,
    zip_locality,
)

DATA = Path("/nonexistent")  # set by the autouse fixture below


@pytest.fixture(autouse=True)
def _data(data_dir: Path) -> None:
    global DATA
    DATA = data_dir


@dataclass(frozen=True)
class Gp:
    mac: str
    state: str
    loc: str
    name: str
    pw: str | None  # as written
    pw_floor: str
    pe: str
    mp: str
    raw: str


@cache
def _file(name: str, release: str) -> Path:
    found = sorted(DATA.rglob(name))
    assert found, name
    if len(found) == 1:
        return found[0]
    mine = [p for p in found if p.parent.name.lower() == release.lower()]
    assert len(mine) == 1, (name, release, found)
    return mine[0]


@cache
def gpcis(release: str) -> dict[str, Gp]:
    """MAC-LOC -> the row of GPCI<year>.csv of ``release`` (RVU26B, RVU25D ...)."""
    year = {"RVU26B": "2026"}.get(release, "2025")
    out = {}
    with _file(f"GPCI{year}.csv", release).open(newline="", encoding="latin-1") as f:
        for row in csv.reader(f):
            if len(row) >= 7 and re.fullmatch(r"\d{5}", row[0]):
                if len(row) >= 8 and row[7].strip():  # 2026: without and with the floor
                    gp = Gp(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], ",".join(row))
                else:
                    gp = Gp(row[0], row[1], row[2], row[3], None, row[4], row[5], row[6], ",".join(row))
                out[f"{row[0]}-{row[2]}"] = gp
    return out


@cache
def zips() -> dict[str, str]:
    """ZIP -> its line of the ZIP-to-locality file."""
    path = next(DATA.rglob("ZIP5_*.txt"))
    return {line[2:7]: line.rstrip("\n") for line in path.read_text(encoding="latin-1").splitlines() if len(line) > 14}


def county_rows(release: str, mac: str, loc: str) -> list[str]:
    with _file("25LOCCO.csv", release).open(newline="", encoding="latin-1") as f:
        return [
            ",".join(r)
            for r in csv.reader(f)
            if len(r) >= 5 and r[0].strip().isdigit() and r[1].strip().isdigit()
            if int(r[0]) == int(mac) and int(r[1]) == int(loc)
        ]


def g3(value: str) -> str:
    return f"{Decimal(value):.3f}"


_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


def _numbers(text: str) -> set[Decimal]:
    return {Decimal(n) for n in _NUMBER.findall(text)}


def cited_text(a: Answer) -> str:
    """The rows an answer cites, as written in the official files."""
    out = []
    for c in a.citations:
        if c.family == "gpci":
            out.append(gpcis(c.release)[c.row].raw)
        elif c.family == "zip5":  # fixed width (ZIP5lyout.txt): state, ZIP, carrier, locality, rural ...
            line = zips().get(c.row, "")
            out.append(" ".join((line[0:2], line[2:7], line[7:12], line[12:14], line[14:])))
        elif c.family == "locality":
            out.extend(county_rows(c.release, *c.row.split("-")))
        else:
            raise AssertionError(f"unexpected citation {c}")
    return "\n".join(out)


def assert_grounded(a: Answer, question: str) -> None:
    """No code is named; every 5-digit string is a ZIP or MAC of a cited row; every number of the
    text is in a cited row as the file writes it, or in the question, the file and release names
    cited, a cited file's year, or the work floor's last day."""
    assert a.kind == "locality"
    assert a.codes == ()
    assert a.confidence in ("high", "medium", "low")
    if a.confidence != "low":
        assert a.citations, a.answer
        assert 2 <= len(a.followups) <= 3
    rows = cited_text(a)
    for c in CODE_LIKE.findall(a.answer):
        assert c in rows or c in question, (c, a.answer)
    text = a.answer.replace("ZIP+4", " ").replace(WORK_FLOOR_LAST_DAY.isoformat(), " ")
    for c in a.citations:
        text = text.replace(c.file, " ").replace(c.release, " ")
    allowed = _numbers(rows) | _numbers(question) | {Decimal(y) for y in (2025, 2026)}
    for n in _numbers(text):
        assert n in allowed, (n, a.answer)


def asked(kb, question: str, cid: str | None = None) -> Answer:
    a = ask(kb, question, conversation_id=cid)
    assert_grounded(a, question)
    return a


def test_registered() -> None:
    assert answerers()["locality"] is answer_locality


@pytest.mark.parametrize("zip5", ["77030", "90210", "33139", "98101", "85004", "04101"])
def test_zip_gives_state_mac_locality_and_gpcis_of_the_files(kb, zip5) -> None:
    line = zips()[zip5]
    state, mac, loc = line[0:2], line[7:12], line[12:14]
    g = gpcis("RVU26B")[f"{mac}-{loc}"]
    a = asked(kb, f"Which Medicare locality is ZIP {zip5} in?")
    assert a.confidence == "high"
    assert f"ZIP {zip5} ({state})" in a.answer
    assert f"locality {loc}, {g.name.rstrip('*')}, of MAC (carrier) {mac}" in a.answer
    work = g3(g.pw if g.pw is not None else g.pw_floor)
    assert f"work {work}" in a.answer and f"practice expense {g3(g.pe)}" in a.answer
    assert f"malpractice {g3(g.mp)}" in a.answer
    assert [(c.family, c.row) for c in a.citations] == [("zip5", zip5), ("gpci", f"{mac}-{loc}")]
    assert a.citations[1].release == "RVU26B" and a.citations[1].file == "GPCI2026.csv"


def test_rural_indicator_is_the_files(kb) -> None:
    by_flag = {}
    for z, line in zips().items():
        by_flag.setdefault(line[14], z)
    words = {
        " ": "urban (no rural indicator)",
        "R": "rural (rural indicator R)",
        "B": "super rural (rural indicator B)",
    }
    for flag, z in by_flag.items():
        line = zips()[z]
        a = asked(kb, f"is zip {z} rural?")
        assert f"ZIP {z} ({line[0:2]}) is {words[flag]} in the ZIP-to-locality file" in a.answer
        assert a.answer.startswith("No: " if flag == " " else "Yes: ")
        assert not asked(kb, f"which locality is zip {z}?").answer.startswith(("Yes", "No"))


def test_zip_plus_four(kb) -> None:
    split = next(z for z, line in zips().items() if line[20] == "1")
    whole = next(z for z, line in zips().items() if line[20] == "0" and line[0:2] == "OH")
    a = asked(kb, f"locality for ZIP {split}-0012?")
    assert f"ZIP {split} " in a.answer and "split by ZIP+4" in a.answer
    b = asked(kb, f"what locality is zip {whole}-4321")
    assert "do not change it" in b.answer and "(4321)" in b.answer
    assert "split by ZIP+4 (parts" not in b.answer


def test_unknown_zip_is_a_plain_low_answer(kb) -> None:
    missing = next(f"{n:05d}" for n in range(1, 1000) if f"{n:05d}" not in zips())
    a = asked(kb, f"Which locality is ZIP {missing}?")
    assert a.confidence == "low"
    assert "no Medicare payment locality" in a.answer and missing in a.answer
    assert [c.row for c in a.citations] == ["(no such ZIP code)"]


def test_a_state_with_one_locality(kb) -> None:
    rows = [g for g in gpcis("RVU26B").values() if g.state == "CO"]
    assert len(rows) == 1
    a = asked(kb, "Which Medicare localities does Colorado have?")
    assert "Colorado (CO) has one Medicare payment locality" in a.answer
    assert f"key {rows[0].mac}-{rows[0].loc}" in a.answer and f"practice expense {g3(rows[0].pe)}" in a.answer


def test_a_state_with_many_lists_them_and_the_rest_of_state(kb) -> None:
    rows = [g for g in gpcis("RVU26B").values() if g.state == "TX"]
    assert len(rows) > 4
    a = asked(kb, "What are the Medicare localities in Texas?")
    for g in rows:
        assert f"{g.loc} {g.name}" in a.answer
    rest = next(g for g in rows if g.name.startswith("REST OF"))
    assert f"Locality {rest.loc}, {rest.name} (MAC {rest.mac}), is the rest of the state" in a.answer
    assert {c.row for c in a.citations if c.family == "gpci"} == {f"{g.mac}-{g.loc}" for g in rows}


def test_a_state_whose_zip_codes_are_also_in_another_states_locality(kb) -> None:
    dc = {line[7:12] + "-" + line[12:14] for line in zips().values() if line[0:2] == "MD"} - {
        f"{g.mac}-{g.loc}" for g in gpcis("RVU26B").values() if g.state == "MD"
    }
    assert dc
    a = asked(kb, "localities in Maryland")
    for key in dc:
        assert f"ZIP codes of MD are also in locality {key[-2:]}" in a.answer and f"key {key}" in a.answer


def test_gpci_list_of_a_state_when_gpcis_are_asked(kb) -> None:
    a = asked(kb, "GPCIs in Georgia")
    for g in (g for g in gpcis("RVU26B").values() if g.state == "GA"):
        assert f"{g.loc} {g.name} (work {g3(g.pw or g.pw_floor)}, practice expense {g3(g.pe)}" in a.answer


def test_city_in_two_states(kb) -> None:
    mo = next(g for g in gpcis("RVU26B").values() if g.state == "MO" and "KANSAS CITY" in g.name)
    ks = [g for g in gpcis("RVU26B").values() if g.state == "KS"]
    a = asked(kb, "GPCIs for Kansas City")
    assert f"key {mo.mac}-{mo.loc}" in a.answer
    b = asked(kb, "What are the GPCIs for Kansas City, Kansas?")
    assert len(ks) == 1 and f"key {ks[0].mac}-{ks[0].loc}" in b.answer
    assert "not of one in Kansas (KS)" in b.answer
    c = asked(kb, "Which locality is Portland, Maine in?")
    assert c.confidence == "medium"
    for g in (g for g in gpcis("RVU26B").values() if g.state == "ME"):
        assert f"{g.loc} {g.name}" in c.answer
    assert "PORTLAND" in c.answer and "not of one in Maine (ME)" in c.answer
    d = asked(kb, "locality for Portland, Oregon")
    assert d.answer.startswith("PORTLAND is Medicare payment locality") and d.confidence == "high"


def test_year_2025_vs_2026(kb) -> None:
    key = "06102-16"
    old, new = gpcis("RVU25D")[key], gpcis("RVU26B")[key]
    a = asked(kb, "What were the 2025 GPCIs for Chicago?")
    assert f"2025 GPCIs (RVU25D GPCI2025.csv): work {g3(old.pw_floor)}, practice expense {g3(old.pe)}" in a.answer
    assert g3(new.mp) not in a.answer
    b = asked(kb, "Chicago GPCIs in 2026")
    assert f"2026 GPCIs (RVU26B GPCI2026.csv): work {g3(new.pw or new.pw_floor)}" in b.answer
    both = asked(kb, "Chicago malpractice GPCI 2025 vs 2026")
    assert f"malpractice {g3(old.mp)}" in both.answer and f"malpractice {g3(new.mp)}" in both.answer


def test_work_gpci_with_and_without_the_floor(kb) -> None:
    g = next(g for g in gpcis("RVU26B").values() if g.pw is not None and g.pw != g.pw_floor and g.name == "MIAMI")
    a = asked(kb, "2026 work GPCI for Miami")
    assert f"work {g3(g.pw or '')} ({g3(g.pw_floor)} with the work GPCI floor, which applied through" in a.answer
    b = asked(kb, "work GPCI for Miami on 1/15/2026")
    assert f"work {g3(g.pw_floor)} with the work GPCI floor ({g3(g.pw or '')} without it" in b.answer
    assert b.confidence == "medium" and b.notices  # no GPCI release of January 2026 is loaded


def test_a_year_with_no_gpci_file_is_low(kb) -> None:
    a = asked(kb, "Seattle GPCIs 2027")
    assert a.confidence == "low" and "No GPCI file for 2027 is loaded" in a.answer


def test_follow_ups_keep_the_place_or_the_year(kb) -> None:
    first = asked(kb, "Which Medicare locality is ZIP 60601?")
    assert "2026 GPCIs" in first.answer
    second = asked(kb, "and in 2025?", first.conversation_id)
    assert "ZIP 60601" in second.answer and "2025 GPCIs (RVU25D" in second.answer
    third = asked(kb, "what about Miami?", second.conversation_id)
    assert third.answer.startswith("MIAMI is Medicare payment locality") and "2025 GPCIs" in third.answer
    assert any("99213" in f for f in first.followups)


def test_nothing_to_answer_is_low(kb) -> None:
    a = answer_locality(kb, Question(text="which locality?", kind="locality"))
    assert a.confidence == "low" and a.citations == () and not CODE_LIKE.findall(a.answer)


def test_pricing_rows_are_the_files(kb) -> None:
    z = zip_locality(kb, "11201-1234")
    line = zips()["11201"]
    assert (z.zip, z.state, z.mac, z.locality, z.rural, z.plus4) == (
        "11201",
        line[0:2],
        line[7:12],
        line[12:14],
        line[14].strip(),
        line[20] == "1",
    )
    assert (z.citation.family, z.citation.row) == ("zip5", "11201")
    with pytest.raises(UnknownLocality):
        zip_locality(kb, next(f"{n:05d}" for n in range(1, 1000) if f"{n:05d}" not in zips()))
    g, f = gpci_row(kb, z.mac, z.locality), gpcis("RVU26B")[z.key]
    assert (g.name, g.state) == (f.name.rstrip("*"), f.state)
    assert [Decimal(str(x)) for x in (g.pw, g.pw_floor, g.pe, g.mp)] == [
        Decimal(x) for x in (f.pw or "", f.pw_floor, f.pe, f.mp)
    ]
    assert g.citation.line is not None and g.citation.row == z.key
    with pytest.raises(UnknownLocality):
        gpci_row(kb, z.mac, "77")
    ny = state_localities(kb, "ny")
    assert {r.key for r in ny} == {k for k, v in gpcis("RVU26B").items() if v.state == "NY"}
    names = state_names(kb)
    assert names["NEW YORK"] == "NY" and names["DISTRICT OF COLUMBIA"] == "DC"
    assert set(names.values()) == {v.state for v in gpcis("RVU26B").values()}


def test_a_locality_written_as_mac_loc(kb) -> None:
    g = gpcis("RVU26B")["13202-01"]
    a = asked(kb, "what are the GPCIs of locality 13202-01?")
    assert a.answer.startswith(f"{g.name} is Medicare payment locality 01 of MAC (carrier) 13202")
    assert ("gpci", "13202-01") in [(c.family, c.row) for c in a.citations]
    assert not any(c.family == "zip5" for c in a.citations)  # 13202 is a ZIP code too: not read as one


def test_a_city_that_is_no_locality_name_lists_its_states_localities(kb) -> None:
    a = asked(kb, "Which Medicare locality is Buffalo, NY?")
    assert a.answer.startswith("Buffalo is not the name of a Medicare payment locality")
    assert a.confidence == "medium"
    for g in (g for g in gpcis("RVU26B").values() if g.state == "NY"):
        assert f"{g.loc} {g.name}" in a.answer


def test_rural_is_per_zip_code(kb) -> None:
    a = asked(kb, "Is Chicago a rural locality?")
    assert "marked per ZIP code" in a.answer
    b = asked(kb, "is zip 60601 rural?")
    assert "marked per ZIP code" not in b.answer and "urban" in b.answer
