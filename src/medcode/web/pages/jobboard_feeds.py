"""Feeds of open jobs: Atom 1.0, RSS 2.0 and JSON Feed 1.1 (the newest first)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from email.utils import formatdate
from xml.sax.saxutils import escape

import orjson

from medcode.app.jobs import JobView

TITLE = "medcode job board: open coding jobs"


def day(epoch: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def summary(job: JobView) -> str:
    """One line: employer, where, credentials, pay."""
    where = "remote" if job.work_mode == "remote" else f"{job.work_mode}, {job.location}"
    parts = [job.employer_name, where]
    if job.credentials:
        parts.append(" / ".join(job.credentials))
    if job.pay_min or job.pay_max:
        low, high = job.pay_min or job.pay_max, job.pay_max or job.pay_min
        per = "an hour" if job.pay_period == "hour" else "a year"
        parts.append(f"${low:,}-${high:,} {per}" if low != high else f"${low:,} {per}")
    return " · ".join(parts)


def render(kind: str, base: str, found: Sequence[JobView], now: float) -> tuple[bytes, str]:
    """(body, media type) of the feed ``kind``: atom, rss or json."""
    base = base.rstrip("/")
    if kind == "json":
        feed = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": TITLE,
            "home_page_url": f"{base}/jobs",
            "feed_url": f"{base}/jobs/feed.json",
            "items": [
                {
                    "id": f"{base}/jobs/{j.id}",
                    "url": f"{base}/jobs/{j.id}",
                    "title": j.title,
                    "summary": summary(j),
                    "content_html": j.description_html,
                    "date_published": _iso(j.created_at),
                    "tags": j.credentials + ([j.specialty] if j.specialty else []),
                }
                for j in found
            ],
        }
        return orjson.dumps(feed), "application/feed+json"
    if kind == "rss":
        items = "".join(
            f"<item><title>{escape(j.title)}</title><link>{base}/jobs/{j.id}</link>"
            f'<guid isPermaLink="true">{base}/jobs/{j.id}</guid><description>{escape(summary(j))}</description>'
            f"<pubDate>{formatdate(j.created_at, usegmt=True)}</pubDate></item>"
            for j in found
        )
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(TITLE)}</title>'
            f"<link>{base}/jobs</link><description>{escape(TITLE)}</description>"
            f"<lastBuildDate>{formatdate(now, usegmt=True)}</lastBuildDate>{items}</channel></rss>"
        )
        return body.encode(), "application/rss+xml"
    updated = _iso(max((j.created_at for j in found), default=int(now)))
    entries = "".join(
        f'<entry><title>{escape(j.title)}</title><link href="{base}/jobs/{j.id}"/><id>{base}/jobs/{j.id}</id>'
        f"<updated>{_iso(j.created_at)}</updated><summary>{escape(summary(j))}</summary>"
        f'<content type="html">{escape(j.description_html)}</content></entry>'
        for j in found
    )
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{escape(TITLE)}</title>'
        f'<link href="{base}/jobs"/><link rel="self" href="{base}/jobs/feed.atom"/><id>{base}/jobs</id>'
        f"<updated>{updated}</updated><author><name>medcode</name></author>{entries}</feed>"
    )
    return body.encode(), "application/atom+xml"
