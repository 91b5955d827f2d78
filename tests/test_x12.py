"""837P read and checked as X12 (005010X222A1), its 999 acknowledgment (005010X231A1), and the
bulk reader of the batch engine against the per-claim reader. Hand-made files only."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from medcode.claims.batch.inputs import claim_frames
from medcode.claims.batch.x12_frames import x12_frames
from medcode.claims.files import read_path
from medcode.claims.readers import ClaimInputError
from medcode.claims.x12 import read_837
from medcode.claims.x12_ack import read_999, write_999
from medcode.claims.x12_validate import validate_837

DATA = Path(__file__).parent / "data"
VALID = (DATA / "837p_valid.x12").read_text()


def recount(text: str) -> str:
    """The text with each SE01 set to its transaction set's count (after a change of segments)."""
    segs = text.split("~")
    out, start = [], 0
    for i, s in enumerate(segs):
        sid = s.strip().split("*")[0]
        if sid == "ST":
            start = i
        if sid == "SE":
            parts = s.split("*")
            parts[1] = str(i - start + 1)
            s = "*".join(parts)
        out.append(s)
    return "~".join(out)


def once(old: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return change


def dropped(old: str) -> Callable[[str], str]:
    return lambda text: recount(once(old, "")(text))


def test_valid_file_is_accepted_and_read():
    v = validate_837(VALID, "v.x12")
    assert (v.count, v.errors) == (0, [])
    ack = read_999(write_999(v, control=7))
    assert [s[1:] for s in ack.all("AK2")] == [["837", "0001", "005010X222A1"], ["837", "0002", "005010X222A1"]]
    assert ack.all("IK5") == [["IK5", "A"], ["IK5", "A"]]
    assert ack.all("AK1") == [["AK1", "HC", "42", "005010X222A1"]]
    assert ack.all("AK9") == [["AK9", "A", "2", "2", "2"]]
    # the envelope of the 999 itself: counts and control numbers that match, sent back to the sender
    ids = [s[0] for s in ack.segments]
    assert ids == ["ISA", "GS", "ST", "AK1", "AK2", "IK5", "AK2", "IK5", "AK9", "SE", "GE", "IEA"]
    isa = ack.segments[0]
    assert (isa[6].strip(), isa[8].strip(), isa[13], isa[16]) == ("H6RECEIVE", "H6SUBMIT", "000000007", ":")
    assert ack.all("SE") == [["SE", str(ids.index("SE") - ids.index("ST") + 1), "0001"]]
    assert ack.all("GS")[0][1] == "FA" and ack.all("GS")[0][8] == "005010X231A1"
    assert ack.all("GE") == [["GE", "1", "7"]] and ack.all("IEA") == [["IEA", "1", "000000007"]]
    one, two = read_837(VALID, "v.x12")
    # NPIs: billing (2010AA), referring (2310A), rendering (2310B; the line's 2420A NM1*82 is the line's own)
    assert (one.billing_npi, one.referring_npi, one.rendering_npi, one.provider) == (
        "1234567893",
        "1245319599",
        "1679576722",
        "1003000126",
    )
    assert (two.billing_npi, two.referring_npi, two.rendering_npi, two.zip_code, two.date) == (
        "1234567893",
        None,
        None,
        "11201",
        date(2026, 5, 5),
    )
    assert [(x.code, x.modifiers, x.pointers) for x in one.lines] == [
        ("99213", ("25",), (1, 2)),
        ("20610", ("RT",), (1,)),
    ]


# (change, the first error's position and message, its IK3 and IK4 (or IK5 codes), AK9)
CASES = [
    pytest.param(
        once("SE*26*0001", "SE*25*0001"),
        "segment 28 (SE) element 1",
        "SE01 says '25' segments; the transaction set of segment 3 has 26",
        None,
        None,
        ["R", "4"],
        ["P", "2", "2", "1"],
        id="se_count",
    ),
    pytest.param(
        once("SE*26*0001", "SE*26*0009"),
        "segment 28 (SE) element 2",
        "SE02 '0009' differs from ST02 '0001'",
        None,
        None,
        ["R", "3"],
        ["P", "2", "2", "1"],
        id="se_control",
    ),
    pytest.param(
        once("GE*2*42", "GE*3*42"),
        "segment 52 (GE) element 1",
        "GE01 says '3' transaction sets; the group has 2",
        None,
        None,
        ["A"],
        ["R", "3", "2", "2", "5"],
        id="ge_count",
    ),
    pytest.param(
        once("IEA*1*000000042", "IEA*1*000000043"),
        "segment 53 (IEA) element 2",
        "IEA02 '000000043' differs from ISA13 '000000042'",
        None,
        None,
        ["A"],
        ["A", "2", "2", "2"],
        id="iea_control",
    ),
    pytest.param(
        dropped("NM1*PR*2*TEST PAYER*****PI*H6PAYER~\n"),
        "segment 16",
        "loop 2010BB (NM1*PR) missing before this segment: loop 2000B requires it",
        ["NM1", "14", "2010BB", "3"],
        None,
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="payer_missing",
    ),
    pytest.param(
        dropped("NM1*IL*1*ROE*RICHARD****MI*H6MEMBER1~\n"),
        "segment 15",
        "loop 2010BA (NM1*IL) missing before this segment: loop 2000B requires it",
        ["NM1", "13", "2010BA", "3"],
        None,
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="subscriber_name_missing",
    ),
    pytest.param(
        dropped("HI*ABK:J069~\n"),
        "segment 44",
        "HI missing before this segment: loop 2300 requires it",
        ["HI", "16", "2300", "3"],
        None,
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="diagnoses_missing",
    ),
    pytest.param(
        dropped("LX*1~\nSV1*HC:87880*75.00*UN*1***1~\nDTP*472*RD8*20260505-20260506~\n"),
        "segment 48",
        "loop 2400 (LX) missing before this segment: loop 2300 requires it",
        ["LX", "20", "2400", "3"],
        None,
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="service_line_missing",
    ),
    pytest.param(
        once("CLM*H6-ONE*180.00***11:B:1", "CLM*H6-ONE*180.00***11:X:1"),
        "segment 17 (CLM) element 5-2",
        "CLM05-2 'X' is not one of B",
        ["CLM", "15", "", "8"],
        ["5:2", "", "7", "X"],
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="clm05_code",
    ),
    pytest.param(
        once("CLM*H6-ONE*180.00", "CLM*H6-ONE*18O.00"),
        "segment 17 (CLM) element 2",
        "CLM02 '18O.00' is not a decimal number",
        ["CLM", "15", "", "8"],
        ["2", "", "6", "18O.00"],
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="clm_amount",
    ),
    pytest.param(
        once("DTP*472*D8*20260504~\nLX*2", "DTP*472*D8*20260231~\nLX*2"),
        "segment 23 (DTP) element 3",
        "DTP03 '20260231' is not a date as DTP02 'D8' says (CCYYMMDD)",
        ["DTP", "21", "", "8"],
        ["3", "", "8", "20260231"],
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="impossible_date",
    ),
    pytest.param(
        once("XX*1234567893~\nN3*10", "XX*12345~\nN3*10"),
        "segment 9 (NM1) element 9",
        "NM109 '12345' is not an NPI (10 digits), as NM108 XX says",
        ["NM1", "7", "", "8"],
        ["9", "", "I12", "12345"],
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="npi_format",
    ),
    pytest.param(
        once("HI*ABK:M1711*ABF:E119", "HI*ABK:M1711*ZZ:E119"),
        "segment 18 (HI) element 2-1",
        "HI02-1 'ZZ' is not one of ABF, BF",
        ["HI", "16", "", "8"],
        ["2:1", "", "7", "ZZ"],
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="hi_qualifier",
    ),
    pytest.param(
        once("SV1*HC:20610:RT*60.00*UN", "SV1*HC:20610:RT*60.00*XX"),
        "segment 25 (SV1) element 3",
        "SV103 'XX' is not one of MJ, UN",
        ["SV1", "23", "", "8"],
        ["3", "", "7", "XX"],
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="sv1_unit",
    ),
    pytest.param(
        once("SV1*HC:99213:25*120.00*UN*1***1:2", "SV1*HC:99213:25*120.00*UN****1:2"),
        "segment 22 (SV1) element 4",
        "SV104 is required and missing",
        ["SV1", "20", "", "8"],
        ["4", "", "1"],
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="sv1_units_missing",
    ),
    pytest.param(
        once("N4*BROOKLYN*NY*11201", "N4*BROOKLYN*NY*11201*US****X"),
        "segment 47 (N4) element 8",
        "N4 has 8 elements; it has at most 7",
        ["N4", "19", "", "8"],
        ["8", "", "3"],
        ["R", "5"],
        ["A", "2", "2", "2"][:0] or ["P", "2", "2", "1"],
        id="too_many_elements",
    ),
    pytest.param(
        once(
            "HL*2*1*22*0~\nSBR*P*18*******MB~\nNM1*IL*1*ROE*RICHARD",
            "HL*2*5*22*0~\nSBR*P*18*******MB~\nNM1*IL*1*ROE*RICHARD",
        ),
        "segment 13 (HL) element 2",
        "HL02 '5' should name an HL of level 20 before this one",
        ["HL", "11", "", "8"],
        ["2", "", "7", "5"],
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="hl_parent",
    ),
    pytest.param(
        lambda t: recount(
            once("BHT*0019*00*H6B1*20261115*0930*CH~\n", "BHT*0019*00*H6B1*20261115*0930*CH~\nZZZ*1~\n")(t)
        ),
        "segment 5 (ZZZ)",
        "unknown segment 'ZZZ', not a segment of 837P",
        ["ZZZ", "3", "", "1"],
        None,
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="unknown_segment",
    ),
    pytest.param(
        once("SV1*HC:87880*75.00*UN*1***1", "SV1|HC:87880|75.00|UN|1|||1"),
        "segment 49 (SV1)",
        "unknown segment 'SV1|HC:87880|75.00|UN|1|||1', not a segment of 837P: are the delimiters mixed?",
        ["SV1", "21", "", "1"],
        None,
        ["R", "5"],
        ["P", "2", "2", "1"],
        id="mixed_delimiters",
    ),
]


@pytest.mark.parametrize("change,where,message,ik3,ik4,ik5,ak9", CASES)
def test_invalid_837p_errors_and_999(change, where, message, ik3, ik4, ik5, ak9):
    v = validate_837(change(VALID), "v.x12")
    first = v.errors[0]
    assert (first.where("v.x12"), first.message[: len(message)]) == (f"v.x12:{where}", message)
    ack = read_999(write_999(v))
    assert ["IK5", *ik5] in ack.all("IK5")
    assert ack.all("AK9") == [["AK9", *ak9]]
    assert (ack.all("IK3")[0] if ack.all("IK3") else None) == (["IK3", *ik3] if ik3 else None)
    assert (ack.all("IK4")[0] if ack.all("IK4") else None) == (["IK4", *ik4] if ik4 else None)
    # the IK3s of the rejected set come right after its AK2 and before its IK5
    ids = [s[0] for s in ack.segments]
    if ik3:
        first = ids.index("IK3")
        assert ids[first - 1] == "AK2" and ids[ids.index("IK5", first) - 1] in ("IK3", "IK4")


@pytest.mark.parametrize("change", [c.values[0] for c in CASES], ids=[c.id for c in CASES])
def test_errors_are_the_same_in_chunks(change):
    """Checked a claim at a time (the envelope, HL numbers and loop state carried from chunk to
    chunk), a file gives the errors it gives whole."""
    text = change(VALID)
    whole, chunked = validate_837(text, "v.x12"), validate_837(text, "v.x12", chunk_chars=1)
    assert chunked.errors == whole.errors and chunked.count == whole.count
    assert write_999(chunked, now=NOW) == write_999(whole, now=NOW)


NOW = datetime(2026, 11, 16, 8, 30)


@pytest.mark.parametrize(
    "change,message",
    [
        (CASES[0].values[0], "segment 28 (SE) element 1: SE01 says '25'"),
        (CASES[2].values[0], "segment 52 (GE) element 1: GE01 says '3'"),
        (CASES[-2].values[0], "segment 5 (ZZZ): unknown segment 'ZZZ'"),
        (
            CASES[-1].values[0],
            "segment 49 (SV1): unknown segment 'SV1|HC:87880|75.00|UN|1|||1', not a segment of 837P: "
            "are the delimiters mixed?",
        ),
        (lambda t: "ISA*00*short~", "segment 1: an 837P file starts with a 106-character ISA segment"),
        (
            lambda t: t.replace("~\n", "\n").replace("\n", "~\n", 2),
            "segment 3 (ST): a line break inside the segment: is '~' (after ISA16) really the segment terminator?",
        ),
        (once("CLM*H6-ONE*", "CLM**"), "segment 17 (CLM) element 1: CLM01 (claim id) is empty"),
        (once("ST*837*0002", "ST*835*0002"), "segment 29 (ST) element 1: transaction set '835' is not an 837"),
        (once("~\nIEA*1*000000042~", "~"), "segment 52: the interchange has no IEA after it"),
    ],
    ids=[
        "se_count",
        "ge_count",
        "unknown_segment",
        "mixed_delimiters",
        "isa_short",
        "no_terminators",
        "claim_id",
        "not_837",
        "no_iea",
    ],
)
def test_unreadable_837p_is_refused_by_both_readers(tmp_path, change, message):
    text = change(VALID)
    with pytest.raises(ClaimInputError) as per_claim:
        read_837(text, "v.x12")
    assert str(per_claim.value).startswith(f"v.x12:{message}"), str(per_claim.value)
    path = tmp_path / "v.x12"
    path.write_text(text)
    with pytest.raises(ClaimInputError) as bulk:
        list(x12_frames(str(path)))
    assert str(bulk.value) == str(per_claim.value).replace("v.x12", str(path))


def _claim_variants() -> list:
    base = VALID
    return [
        pytest.param(base, 0, id="valid"),
        pytest.param("\n\t " + base.replace("~\n", "~\r\n"), 0, id="white_space_and_crlf"),
        pytest.param(once("D8*20260504~\nLX*2", "D8*20260231~\nLX*2")(base), 1, id="impossible_date"),
        pytest.param(once("UN*1***1:2", "UN*-1***1:2")(base), 1, id="negative_units"),
        pytest.param(once("SV1*HC:87880", "SV1*hc:87880")(base), 1, id="lowercase_qualifier"),
        pytest.param(once("SV1*HC:87880", "SV1*HC:8788a")(base), 0, id="lowercase_code"),
        pytest.param(once("HC:20610:RT", "HC:20610:rt")(base), 0, id="lowercase_modifier"),
        pytest.param(once("HC:20610:RT", "HC:20610:R")(base), 1, id="short_modifier"),
        pytest.param(once("ABK:J069", "BK:4659")(base), 1, id="icd9"),
        pytest.param(
            once(
                "ABK:J069",
                "ABK:J069*ABF:J01*ABF:J02*ABF:J03*ABF:J04*ABF:J05*ABF:J06*ABF:J07*ABF:J08"
                "*ABF:J09*ABF:J10*ABF:J11*ABF:J12",
            )(base),
            1,
            id="13_diagnoses",
        ),
        pytest.param(
            recount(
                once(
                    "DTP*472*RD8*20260505-20260506~\n", "DTP*472*RD8*20260505-20260506~\nSV1*HC:87880*75.00*UN*1***1~\n"
                )(base)
            ),
            1,
            id="second_sv1",
        ),
        pytest.param(recount(once("DTP*472*D8*20260504~\nLX*2", "LX*2")(base)), 0, id="line_without_date"),
        pytest.param(
            recount(
                once(
                    "DTP*472*D8*20260504~\nLX*2~\nSV1*HC:20610:RT*60.00*UN*1***1~\nDTP*472*D8*20260504",
                    "LX*2~\nSV1*HC:20610:RT*60.00*UN*1***1",
                )(base)
            ),
            1,
            id="claim_without_dates",
        ),
        pytest.param(once("N4*BROOKLYN*NY*11201", "N4*BROOKLYN*NY")(base), 0, id="facility_without_zip"),
        pytest.param(once("11:B:1", ":B:1")(base), 0, id="no_place_of_service"),
        pytest.param(once("UN*1***1:2", "UN*1***1::2")(base), 1, id="empty_pointer"),
        pytest.param(once("60.00*UN", "6e1*UN")(base), 1, id="charge_exponent"),
    ]


@pytest.mark.parametrize("text,slow", _claim_variants())
@pytest.mark.parametrize("chunk", [80, 1 << 20], ids=["chunk_per_claim", "one_chunk"])
def test_bulk_reader_gives_the_per_claim_readers_frames(tmp_path, text, slow, chunk):
    """The batch engine's 837P frames equal those built from the per-claim reader's claims; a
    claim that reader has problems with (or reads its own way) is left to it, whole."""
    path = tmp_path / "c.x12"
    path.write_text(text)
    got = list(x12_frames(str(path), chunk))
    want = list(claim_frames(read_path(str(path), "x12"), 10**9))
    claims = pl.concat([g[0] for g in got])
    lines = pl.concat([g[1] for g in got])
    assert claims.equals(want[0][0]), (claims, want[0][0])
    assert lines.equals(want[0][1]), (lines, want[0][1])
    assert [s for g in got for s in g[2]] == want[0][2]
    assert len(want[0][2]) == slow


def test_cli_check_writes_a_999(cli_env, tmp_path):
    ack = tmp_path / "out.999"
    bad = tmp_path / "bad.x12"
    bad.write_text(once("CLM*H6-ONE*180.00***11:B:1", "CLM*H6-ONE*180.00***11:X:1")(VALID))
    r = subprocess.run(
        [sys.executable, "-m", "medcode.cli", "check", str(bad), "--ack", str(ack), "--quiet"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert f"999 written to {ack}: 1 of 2 transaction set(s) accepted, 1 error(s)" in r.stderr
    assert f"{bad}:segment 17 (CLM) element 5-2: CLM05-2 'X' is not one of B" in r.stderr
    read = read_999(ack.read_text())
    assert read.all("IK4") == [["IK4", "5:2", "", "7", "X"]] and read.all("AK9") == [["AK9", "P", "2", "2", "1"]]
    # a file whose envelope is broken: the 999 rejects its set, and the check refuses the file
    broken = tmp_path / "broken.x12"
    broken.write_text(once("SE*26*0001", "SE*25*0001")(VALID))
    r = subprocess.run(
        [sys.executable, "-m", "medcode.cli", "check", str(broken), "--ack", str(ack), "--quiet"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and "SE01 says '25' segments" in r.stderr
    assert read_999(ack.read_text()).all("IK5")[0] == ["IK5", "R", "4"]
    csv = tmp_path / "c.csv"
    csv.write_text("claim_id,code\nA,99213\n")
    r = subprocess.run(
        [sys.executable, "-m", "medcode.cli", "check", str(csv), "--ack", str(ack), "--quiet"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and "--ack acknowledges X12 837P files only" in r.stderr


def test_generated_837p_is_valid_in_any_chunks(cli_env, tmp_path):
    """bench/gen_claims.py writes valid 837P (several transaction sets): no error, whole or a
    claim at a time, and a 999 that accepts every set."""
    path = tmp_path / "gen.837"
    subprocess.run(
        [sys.executable, str(DATA.parent.parent / "bench" / "gen_claims.py"), "20000", str(path), "--seed", "3"],
        check=True,
        capture_output=True,
        timeout=300,
        env=cli_env,
    )
    text = path.read_text()
    for chunk in (1 << 20, 50_000):
        v = validate_837(text, "gen.837", chunk_chars=chunk)
        assert (v.count, v.errors[:3]) == (0, [])
    sets = len(v.groups[0].sets)
    assert sets == text.count("~ST*837*") and sets >= 2
    assert read_999(write_999(v)).all("AK9") == [["AK9", "A", str(sets), str(sets), str(sets)]]


def test_mixed_delimiters_are_one_unknown_segment_and_its_gap():
    """A segment written with other delimiters is reported once as unknown (not again as out of
    place), and the loop it leaves without an SV1 names the segment after it."""
    v = validate_837(CASES[-1].values[0](VALID), "v.x12")
    assert [(e.where("v.x12"), e.segment_code) for e in v.errors] == [
        ("v.x12:segment 49 (SV1)", "1"),
        ("v.x12:segment 50", "3"),
    ]
    assert read_999(write_999(v)).all("IK3") == [["IK3", "SV1", "21", "", "1"], ["IK3", "SV1", "22", "2400", "3"]]
