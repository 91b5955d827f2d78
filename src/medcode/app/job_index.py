"""The job board's search words in memory, one copy per process, kept right across processes.

Every search first reads a marker of the ``jobs`` table (count, highest id, hidden count, sums of the
creation and expiry times: one pass over a covering index). When it differs from the marker of what this
process holds, the new jobs (ids above the highest held) are read, or, after a hide or a removal, everything
is read again. A search is then set intersections of the words' postings, filtered by openness (at the time
of the search, so an expired job leaves it at once) and pay, the newest page picked with a heap, and one read
of that page's jobs by id.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, case, func, select

from medcode.app.models_jobs import Job, JobWord

Marker = tuple[int, int, int, int, int]


@dataclass
class _Meta:
    created_at: int
    expires_at: int
    hidden: bool
    pay_year: int | None


def _marker(conn: Connection) -> Marker:
    row = conn.execute(
        select(
            func.count(Job.id),
            func.coalesce(func.max(Job.id), 0),
            func.coalesce(func.sum(case((Job.hidden, 1), else_=0)), 0),
            func.coalesce(func.sum(Job.created_at), 0),
            func.coalesce(func.sum(Job.expires_at), 0),
        )
    ).one()
    return (int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]))


def _marker_of(jobs: dict[int, _Meta]) -> Marker:
    metas = jobs.values()
    return (
        len(jobs),
        max(jobs, default=0),
        sum(1 for m in metas if m.hidden),
        sum(m.created_at for m in metas),
        sum(m.expires_at for m in metas),
    )


class JobIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, _Meta] = {}
        self._words: dict[str, set[int]] = {}
        self._held: Marker = (0, 0, 0, 0, 0)

    def _load(
        self, conn: Connection, above: int, jobs: dict[int, _Meta], words: dict[str, set[int]]
    ) -> tuple[dict[int, _Meta], dict[str, set[int]]]:
        """New dicts holding ``jobs`` and ``words`` and the jobs of ids above ``above`` (copies: a search in
        another thread may be reading the old ones)."""
        jobs, added = dict(jobs), dict[str, set[int]]()
        cols = (Job.id, Job.created_at, Job.expires_at, Job.hidden, Job.pay_year)
        for jid, created, expires, hidden, pay in conn.execute(select(*cols).where(Job.id > above)):
            jobs[jid] = _Meta(int(created), int(expires), bool(hidden), pay)
        ids = {j: j for j in jobs}  # one int object per job id across all postings
        for word, jid in conn.execute(select(JobWord.word, JobWord.job_id).where(JobWord.job_id > above)):
            added.setdefault(word, set()).add(ids.get(jid, jid))
        words = dict(words)
        for word, more in added.items():
            words[word] = words[word] | more if word in words else more
        return jobs, words

    def refresh(self, conn: Connection) -> None:
        found = _marker(conn)
        if found == self._held:
            return
        with self._lock:
            if found == self._held:
                return
            held = self._held
            if found[0] > held[0] and found[1] > held[1] and found[2] == held[2]:  # only new jobs
                jobs, words = self._load(conn, held[1], self._jobs, self._words)
                if _marker_of(jobs) == _marker(conn):
                    self._words, self._jobs, self._held = words, jobs, _marker_of(jobs)
                    return
            # a hide, a removal, or a change meanwhile: read everything
            jobs, words = self._load(conn, 0, {}, {})
            self._words, self._jobs, self._held = words, jobs, _marker_of(jobs)

    def search(
        self, conn: Connection, wanted: Iterable[str], now: int, pay_min: int | None, offset: int, limit: int
    ) -> tuple[int, list[int]]:
        """(matches, the ids of one page newest first) of the open jobs having every wanted word."""
        self.refresh(conn)
        jobs, words = self._jobs, self._words
        postings = sorted((words.get(w, set()) for w in set(wanted)), key=len)
        if postings:
            found = postings[0].intersection(*postings[1:])  # a new set (the postings are never changed)
        else:
            found = set(jobs)
        matches = []
        for jid in found:
            meta = jobs.get(jid)
            if meta is None or meta.hidden or meta.expires_at <= now:
                continue
            if pay_min is not None and (meta.pay_year is None or meta.pay_year < pay_min):
                continue
            matches.append((meta.created_at, jid))
        page = heapq.nlargest(offset + limit, matches)[offset:]
        return len(matches), [jid for _, jid in page]


_INDEXES: dict[str, JobIndex] = {}
_LOCK = threading.Lock()


def index_of(db: Engine) -> JobIndex:
    key = db.url.render_as_string(hide_password=False)
    with _LOCK:
        return _INDEXES.setdefault(key, JobIndex())
