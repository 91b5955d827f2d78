"""Payment by locality: GPCIs x RVUs x CF, for every locality."""

from __future__ import annotations

from datetime import date

import pytest

from medcode.pricing import PricingError, UnknownLocality, price, price_all_localities


def test_99213_in_manhattan(kb):
    p = price(kb, "99213", zip_code="10001")
    assert (p.locality.mac, p.locality.locality, p.locality.name) == ("13202", "01", "MANHATTAN")
    assert (p.gpci.work, p.gpci.pe, p.gpci.mp, p.gpci.work_floor) == (1.064, 1.162, 1.586, False)
    # [(1.30 x 1.064) + (1.46 x 1.162) + (0.09 x 1.586)] x 33.4009 = 107.633...
    assert (p.nonfacility, p.facility) == (107.63, 63.78)


def test_work_gpci_floor_applies_in_january_2026(kb):
    p = price(kb, "99213", locality="10112-00", day=date(2026, 1, 15))
    assert (p.gpci.work, p.gpci.work_floor) == (1.0, True)
    later = price(kb, "99213", locality="10112-00", day=date(2026, 5, 1))
    assert (later.gpci.work, later.gpci.work_floor) == (0.988, False)


def test_every_locality(kb):
    rows = price_all_localities(kb, "99213")
    assert len(rows) == 109
    assert len({r.locality.key for r in rows}) == 109
    assert rows[0].nonfacility >= rows[-1].nonfacility


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"zip_code": "1000"}, PricingError),
        ({"zip_code": "00000"}, UnknownLocality),
        ({"locality": "13202"}, PricingError),
        ({"locality": "99999-99"}, UnknownLocality),
        ({}, PricingError),
    ],
    ids=["short-zip", "unknown-zip", "bad-locality", "unknown-locality", "nothing"],
)
def test_bad_places(kb, kwargs, error):
    with pytest.raises(error):
        price(kb, "99213", **kwargs)
