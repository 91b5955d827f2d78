"""Write realistic test claims of any size from the knowledge base, as CSV or X12 837P.

    .venv/bin/python bench/gen_claims.py LINES OUT.csv|OUT.837 [--seed N]

Claims have 1-10 lines on one date of service in 2026, a ZIP code and place of service, 1-4
billable ICD-10-CM diagnoses, and a mix of E/M visits, procedures, add-on codes with and
without their primary code, PTP pairs, units over the MUE, modifiers (25, 51, 59, 50, 26, LT,
RT) and a few deleted or unknown codes, so every check has work to do.
"""

from __future__ import annotations

import random
import sys
from datetime import date, timedelta
from pathlib import Path

import medcode
from medcode.claims.checks.npi import check_digit


def _npi(first_nine: str) -> str:
    """An NPI with a valid check digit, as real claims carry (the NPI check would deny others)."""
    return first_nine + str(check_digit(first_nine))


HEADER = "claim_id,date,place_of_service,provider,zip,diagnoses,code,modifiers,units,pointers,charge\n"


def pools(kb: medcode.KnowledgeBase) -> dict[str, list]:
    pfs = kb.resolve("pprrvu", None).release.ids[0]
    aoc = kb.resolve("aoc", None).release.ids[0]
    codes = [
        r[0]
        for r in kb.query(
            "SELECT hcpcs FROM rvus WHERE release_id = ? AND modifier = '' AND status = 'A' "
            "AND global_days IN ('000', '010', '090') ORDER BY hcpcs",
            (pfs,),
        )
    ]
    addons = kb.query(
        "SELECT addon_code, min(primary_code) FROM aoc_edits WHERE release_id = ? AND edit_type = '1' "
        "AND primary_code != 'CCCCC' GROUP BY addon_code ORDER BY addon_code",
        (aoc,),
    )
    return {
        "procedures": codes,
        "visits": ["99202", "99203", "99204", "99212", "99213", "99214", "99215", "99232", "99233", "99283"],
        "addons": addons,
        "diagnoses": [
            r[0] for r in kb.query("SELECT code FROM icd10cm_codes WHERE billable = 1 ORDER BY code LIMIT 40000")
        ],
        "zips": [r[0] for r in kb.query("SELECT DISTINCT zip FROM zip_localities ORDER BY zip LIMIT 5000")],
    }


def claims(kb: medcode.KnowledgeBase, lines: int, seed: int):
    rng = random.Random(seed)
    p = pools(kb)
    n = made = 0
    while made < lines:
        n += 1
        day = date(2026, 4, 1) + timedelta(days=rng.randrange(90))
        dx = rng.sample(p["diagnoses"], rng.randint(1, 4))
        body: list[tuple[str, list[str], int]] = []
        if rng.random() < 0.6:
            body.append((rng.choice(p["visits"]), ["25"] if rng.random() < 0.3 else [], 1))
        for _ in range(rng.randint(0, 4)):
            mods = rng.choice([[], [], [], ["51"], ["59"], ["LT"], ["RT"], ["50"], ["26"]])
            body.append((rng.choice(p["procedures"]), mods, rng.choice([1, 1, 1, 2])))
        if rng.random() < 0.2:
            addon, primary = rng.choice(p["addons"])
            if rng.random() < 0.7:
                body.append((primary, [], 1))
            body.append((addon, ["51"] if rng.random() < 0.1 else [], rng.choice([1, 1, 2])))
        if rng.random() < 0.01:
            body.append((rng.choice(["99999", "0001A", "G9999"]), [], 1))
        if not body:
            body.append((rng.choice(p["visits"]), [], 1))
        body = body[:10][: lines - made]
        made += len(body)
        yield {
            "id": f"C{n:08d}",
            "date": day,
            "pos": rng.choice(["11", "11", "11", "22", "21", "24"]),
            "provider": _npi(f"1{rng.randrange(10**8):08d}"),
            "zip": rng.choice(p["zips"]),
            "dx": dx,
            "lines": [
                (code, mods, units, [rng.randint(1, len(dx))], round(rng.uniform(50, 2000), 2))
                for code, mods, units in body
            ],
        }


def write_csv(out, items) -> None:
    out.write(HEADER)
    for c in items:
        dx = ";".join(c["dx"])
        for code, mods, units, ptrs, charge in c["lines"]:
            out.write(
                f"{c['id']},{c['date']},{c['pos']},{c['provider']},{c['zip']},{dx},{code},{';'.join(mods)},"
                f"{units},{';'.join(map(str, ptrs))},{charge}\n"
            )


def write_837(out, items) -> None:
    """One interchange, one functional group, one transaction per 5000 claims."""
    seg = []
    today = date(2026, 11, 23)
    out.write(
        f"ISA*00*          *00*          *ZZ*MEDCODEGEN     *ZZ*MEDCODE        *{today:%y%m%d}*1200*^*00501*"
        f"000000001*0*T*:~GS*HC*MEDCODEGEN*MEDCODE*{today:%Y%m%d}*1200*1*X*005010X222A1~"
    )
    st = 0

    def flush() -> None:
        nonlocal seg, st, hl
        if seg:
            st += 1
            body = [
                f"ST*837*{st:04d}*005010X222A1",
                f"BHT*0019*00*{st}*{today:%Y%m%d}*1200*CH",
                "NM1*41*2*MEDCODE GENERATOR*****46*GEN1",
                "PER*IC*TEST*TE*5555555555",
                "NM1*40*2*MEDICARE*****46*MCR",
                "HL*1**20*1",
                "NM1*85*2*CLINIC*****XX*1234567893",
                "N3*1 MAIN ST",
                "N4*NEW YORK*NY*10001",
                "REF*EI*123456789",
                *seg,
            ]
            out.write("~".join(body) + f"~SE*{len(body) + 1}*{st:04d}~")
            seg, hl = [], 1  # (HL01 counts from 1 in each transaction set)

    hl = 1
    for count, c in enumerate(items, start=1):
        hl += 1
        total = sum(x[4] for x in c["lines"])
        seg += [
            f"HL*{hl}*1*22*0",
            "SBR*P*18*******MB",
            f"NM1*IL*1*DOE*JANE****MI*{c['id']}",
            "NM1*PR*2*MEDICARE*****PI*MCR",
            f"CLM*{c['id']}*{total:.2f}***{c['pos']}:B:1*Y*A*Y*Y",
            "HI*" + "*".join(("ABK" if i == 0 else "ABF") + ":" + d.replace(".", "") for i, d in enumerate(c["dx"])),
            f"NM1*82*1*SMITH*JOHN****XX*{c['provider']}",
            "NM1*77*2*SITE*****XX*1234567893",
            "N3*2 SITE ST",
            f"N4*CITY*NY*{c['zip']}",
        ]
        for i, (code, mods, units, ptrs, charge) in enumerate(c["lines"], start=1):
            comp = ":".join(["HC", code, *mods])
            seg += [
                f"LX*{i}",
                f"SV1*{comp}*{charge:.2f}*UN*{units}***{':'.join(map(str, ptrs))}",
                f"DTP*472*D8*{c['date']:%Y%m%d}",
            ]
        if count % 5000 == 0:
            flush()
    flush()
    out.write(f"GE*{st}*1~IEA*1*000000001~")


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    lines, out = int(args[0]), Path(args[1])
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 1
    kb = medcode.open_kb()
    with out.open("w", newline="") as fh:
        (write_837 if out.suffix in (".837", ".x12", ".edi") else write_csv)(fh, claims(kb, lines, seed))
    print(f"wrote {lines:,} lines to {out}")


if __name__ == "__main__":
    main()
