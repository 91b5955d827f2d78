"""Plans as data: how many code pages a window and how many API requests a minute each plan allows.

Payments are not part of medcode. A payment provider's webhook (or an admin) changes what an account may
see with one call, :func:`medcode.app.accounts.set_plan` (user id, plan name): that is the seam.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medcode.app.models import PLAN_NAMES


@dataclass(frozen=True)
class Plan:
    name: str
    pages: int | None  # distinct code/compare pages per quota window; None = unlimited
    rate_per_minute: int  # API requests a minute per key; 0 = no keys


def plans(conf: Any) -> dict[str, Plan]:
    """The plans, from the settings (MEDCODE_GUEST_PAGES, MEDCODE_MEMBER_PAGES, MEDCODE_RATE_*)."""
    guest = int(conf.guest_pages)
    out = {
        "guest": Plan("guest", guest, 0),
        "member": Plan("member", guest + int(conf.member_pages), int(conf.rate_member)),
        "pro": Plan("pro", None, int(conf.rate_pro)),
    }
    assert tuple(out) == PLAN_NAMES
    return out


def window_seconds(conf: Any) -> int:
    """Length of a quota window in seconds (MEDCODE_QUOTA_WINDOW, already parsed by the settings)."""
    return int(conf.quota_window)


def window_of(now: float, seconds: int) -> int:
    """The number of the window ``now`` falls in."""
    return int(now) // seconds


def window_end(now: float, seconds: int) -> int:
    """Epoch second at which the window of ``now`` ends."""
    return (window_of(now, seconds) + 1) * seconds
