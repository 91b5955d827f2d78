"""Consult mail intake: how many messages a second `medcode mail` accepts over SMTP (each stored in the application
database before the 250), with CasePilot drafts made in the background, and how long the draft backlog takes to
drain.

    .venv/bin/python bench/consult_bench.py [--messages 500] [--clients 4] [--rate 0] [--database-url URL]

MEDCODE_HOME must hold a knowledge base (the drafts need it); the bench uses a temporary home that links to it,
and a fresh SQLite application database there, or the PostgreSQL database named by --database-url (migrated).
The questions are those of bench/ask_dev.tsv, sent by registered accounts (so every one goes to the queue and
gets a draft), each message over a new SMTP connection. --rate N paces the senders at N messages a second in
all (0: as fast as they go). Goal (issue 17): at least 50 messages a second accepted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

from medcode import settings
from medcode.app import accounts, consult_drafts, db

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def questions() -> list[str]:
    rows = [line.split("\t") for line in (HERE / "ask_dev.tsv").read_text().splitlines() if not line.startswith("#")]
    return [r[1] for r in rows[1:] if len(r) > 1 and r[1].strip()]


def message(sender: str, text: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "consult@medcode.test"
    msg["Subject"] = text[:70]
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@bench.example>"
    msg.set_content(f"Hello,\n\n{text}\n\nThanks,\nA coder\n")
    return msg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--clients", type=int, default=4, help="concurrent SMTP clients (threads)")
    ap.add_argument("--rate", type=float, default=0.0, help="messages a second in all (0: unpaced)")
    ap.add_argument("--database-url", default="")
    ap.add_argument("--drain-timeout", type=float, default=900.0)
    args = ap.parse_args()

    conf = settings.load()
    kb = (conf.home / "kb").resolve()
    if not kb.exists():
        print(f"no knowledge base in {conf.home}: set MEDCODE_HOME", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="consult-bench-"))
    (tmp / "kb").symlink_to(kb)
    url = db.database_url(
        settings.load({**os.environ, "MEDCODE_HOME": str(tmp), "MEDCODE_DATABASE_URL": args.database_url})
    )
    db.upgrade(url)
    eng = db.engine(url)
    senders = [
        accounts.create_user(
            eng, f"coder{i}-{uuid.uuid4().hex[:6]}@bench.example", "bench password", "member", "member"
        ).email
        for i in range(20)
    ]
    port = free_port()
    env = dict(os.environ, MEDCODE_HOME=str(tmp), MEDCODE_DATABASE_URL=url, MEDCODE_EMBED="off")
    log = (tmp / "mail.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "medcode.cli", "mail", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        for _ in range(300):
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=2) as smtp:
                    smtp.noop()
                break
            except OSError:
                time.sleep(0.2)
        else:
            print("the receiver did not start", file=sys.stderr)
            return 1
        return run(args, eng, port, senders)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
        db.dispose_all()
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, eng: object, port: int, senders: list[str]) -> int:
    texts = questions()
    work = [message(senders[i % len(senders)], texts[i % len(texts)]) for i in range(args.messages)]
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    nxt = iter(range(len(work)))
    start = time.perf_counter()

    def client() -> None:
        while True:
            with lock:
                i = next(nxt, None)
            if i is None:
                return
            if args.rate > 0:
                delay = start + i / args.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            t0 = time.perf_counter()
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                    smtp.send_message(work[i])
            except (OSError, smtplib.SMTPException) as exc:
                with lock:
                    failures.append(f"{exc.__class__.__name__}: {exc}")
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)

    pool = [threading.Thread(target=client) for _ in range(args.clients)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    accepted_at = time.perf_counter()
    took = accepted_at - start
    backlog = consult_drafts.pending(eng)  # type: ignore[arg-type]
    lat = sorted(latencies)
    print(
        f"accepted {len(lat)} of {len(work)} messages in {took:.2f} s: {len(lat) / took:.1f} messages/s "
        f"({args.clients} clients, {'unpaced' if args.rate <= 0 else f'paced at {args.rate:g}/s'})"
    )
    if lat:
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
        print(
            f"per message (connect, send, stored, 250): p50 {statistics.median(lat) * 1000:.1f} ms, "
            f"p95 {p95 * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms"
        )
    if failures:
        print(f"{len(failures)} failed, e.g. {failures[0]}")
    print(f"drafts still to make when the last message was accepted: {backlog}")
    while consult_drafts.pending(eng) and time.perf_counter() - accepted_at < args.drain_timeout:  # type: ignore[arg-type]
        time.sleep(0.5)
    left = consult_drafts.pending(eng)  # type: ignore[arg-type]
    drained = time.perf_counter() - accepted_at
    print(
        f"draft backlog drained {drained:.1f} s after the last message ({left} left); "
        f"{len(lat) / (time.perf_counter() - start):.1f} drafts/s overall"
    )
    return 0 if not failures and len(lat) / took >= 50 else 1


if __name__ == "__main__":
    sys.exit(main())
