"""The ``medcode`` command. Each command parses, makes one core call, and renders."""

from __future__ import annotations

import argparse
import functools
import sys
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from medcode import settings as settings_mod
from medcode.codes import MalformedCode, UnknownCode
from medcode.dates import iso_day
from medcode.kb.db import KnowledgeBaseMissing
from medcode.kb.models import Price
from medcode.pricing import PricingError, UnknownLocality
from medcode.search import SearchError

EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_PIPE = 141  # what a shell reports for a command ended by SIGPIPE (128 + 13), as `yes | head` gives


class UsageError(ValueError):
    pass


def _date(text: str) -> date:
    try:
        return iso_day(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


@functools.cache  # built once per process (a program may call ``main`` many times)
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="medcode", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    ing = sub.add_parser("ingest", help="build the knowledge base from a directory of official files")
    ing.add_argument("dir", nargs="?", type=Path, help="official files (default: MEDCODE_DATA)")
    ing.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ing.add_argument("--quiet", action="store_true", help="no progress bars")

    se = sub.add_parser("search", help="find codes by code, prefix, range, words, abbreviations or lay terms")
    se.add_argument("query")
    se.add_argument("--system", help="cpt, hcpcs, icd10cm or modifier (comma-separated for several)")
    se.add_argument("--limit", type=int, default=20, help="1-100 (default 20)")
    se.add_argument("--date", type=_date, help="only codes valid on this date of service")
    se.add_argument("--billable", action="store_true", help="only billable, active codes")
    se.add_argument("--json", action="store_true")

    show = sub.add_parser("show", help="everything about one CPT, HCPCS or ICD-10-CM code")
    show.add_argument("code")
    show.add_argument("--date", type=_date, help="date of service (YYYY-MM-DD); default: newest release")
    where = show.add_mutually_exclusive_group()
    where.add_argument("--zip", help="ZIP code for locality payment")
    where.add_argument("--locality", help="MAC-LOCALITY, e.g. 13202-01")
    show.add_argument("--json", action="store_true")

    pr = sub.add_parser("price", help="Medicare payment for a code in a locality, or in all of them")
    pr.add_argument("code")
    pr.add_argument("--date", type=_date)
    pr.add_argument("--modifier", default="", help="e.g. 26 or TC")
    where = pr.add_mutually_exclusive_group(required=True)
    where.add_argument("--zip")
    where.add_argument("--locality")
    where.add_argument("--all-localities", action="store_true", help="every locality, highest first")
    pr.add_argument("--json", action="store_true")

    ptp = sub.add_parser("ptp", help="the NCCI PTP edits of a code, in force on a date")
    ptp.add_argument("code")
    ptp.add_argument("--date", type=_date, help="date of service (YYYY-MM-DD); default: newest release")
    ptp.add_argument(
        "--direction",
        choices=("column_1", "column_2"),
        default="column_1",
        help="column_1: edits where the code is the comprehensive code; column_2: where it "
        "is the code denied (default column_1)",
    )
    ptp.add_argument("--offset", type=int, default=0)
    ptp.add_argument("--limit", type=int, default=1000, help="at most this many edits (1-1000, default 1000)")
    ptp.add_argument("--json", action="store_true")

    chk = sub.add_parser("check", help="check claims for denials (NCCI, MUE, add-on, modifiers ...) and reprice them")
    chk.add_argument("file", help="claims as JSON, CSV, X12 837P or FHIR R4 Claim JSON")
    chk.add_argument(
        "--format",
        choices=("json", "csv", "x12", "fhir"),  # medcode.claims.FORMATS
        help="default: from the file name (.json, .csv, .837/.x12/.edi, .fhir.json)",
    )
    chk.add_argument(
        "--report",
        help="write the report to this file, its form chosen by the extension: .json, "
        ".jsonl (JSON Lines), .parquet, .csv (one row per finding) or .html",
    )
    chk.add_argument("--json", action="store_true", help="print the JSON report instead of the summary")
    chk.add_argument(
        "--ack",
        metavar="FILE",
        help="X12 837P only: check the file as 837P 005010X222A1 and write a 999 "
        "acknowledgment (005010X231A1) to FILE; the errors go to stderr",
    )
    chk.add_argument("--quiet", action="store_true", help="no progress bar")
    chk.add_argument(
        "--engine",
        choices=("claim", "batch", "spark"),
        default="batch",
        help="batch (default): whole-file joins with Polars; claim: one claim at a time; spark: "
        "the batch engine as an Apache Spark job (needs Java and pyspark). All give the "
        "same findings and amounts.",
    )
    chk.add_argument("--spark-master", default="local[2]", help="Spark master URL for --engine spark")

    sub.add_parser("embed", help="build (or resume) the embedding cache that semantic search uses")

    from medcode.casenote import SETTINGS as NOTE_SETTINGS

    sug = sub.add_parser("suggest", help="Case2Code: the codes a clinical note supports, with the words that say so")
    sug.add_argument("note", help="the note, a UTF-8 text file ('-': standard input)")
    sug.add_argument("--json", action="store_true")
    sug.add_argument("--date", type=_date, help="date of service (YYYY-MM-DD); default: newest release")
    sug.add_argument("--setting", choices=NOTE_SETTINGS, help="place of service of the procedures (default office)")
    sug.add_argument("--all", action="store_true", help="also list the candidates below the threshold")

    aud = sub.add_parser(
        "audit", help="documentation audit: does the note support each code billed, element by element"
    )
    aud.add_argument("note", help="the note, a UTF-8 text file ('-': standard input)")
    aud.add_argument(
        "--code",
        action="append",
        required=True,
        dest="codes",
        metavar="CODE",
        help="a code billed, with its modifiers if any (20702, 20610-RT, 99214-25); repeat for several",
    )
    aud.add_argument("--date", type=_date, help="date of service (YYYY-MM-DD); default: newest release")
    aud.add_argument("--json", action="store_true", help="print the JSON contract of POST /api/audit")

    ask = sub.add_parser("ask", help="CasePilot: answer a coding question from the knowledge base, with its sources")
    ask.add_argument("question", help='the question in plain words, e.g. "Does 20702 need modifier 51?"')
    ask.add_argument("--json", action="store_true", help="print the JSON contract of POST /api/ask")
    ask.add_argument("--date", type=_date, help="date of service (YYYY-MM-DD); default: the question's, else newest")
    ask.add_argument("--zip", help="ZIP code for locality payment")

    rel = sub.add_parser("releases", help="the files and releases in the knowledge base")
    rel.add_argument("--json", action="store_true")

    srv = sub.add_parser("serve", help="run the JSON API (and /docs) with uvicorn")
    srv.add_argument("--host")
    srv.add_argument("--port", type=int)
    srv.add_argument("--workers", type=int)
    srv.add_argument(
        "--smtp-port",
        type=int,
        help="also receive consult questions by mail on this port (default MEDCODE_SMTP_PORT; 0: no receiver)",
    )

    ml = sub.add_parser("mail", help="receive consult questions by mail (SMTP, and MEDCODE_IMAP_URL) and draft answers")
    ml.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ml.add_argument("--port", type=int, help="SMTP port (default MEDCODE_SMTP_PORT, else 2525)")

    dbp = sub.add_parser("db", help="the application database (accounts, keys, usage): migrate it or show its revision")
    dbsub = dbp.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser(
        "upgrade", help="run every migration up to the newest (SQLite in MEDCODE_HOME, or MEDCODE_DATABASE_URL)"
    )
    dbsub.add_parser("current", help="the revision the database is at; exit 1 when it is behind the newest")

    from medcode.app.names import PLAN_NAMES, ROLES

    adm = sub.add_parser("admin", help="manage accounts: create one, change its role or plan")
    admsub = adm.add_subparsers(dest="admin_command", required=True)
    cu = admsub.add_parser("create-user", help="a verified account (the password is asked twice)")
    cu.add_argument("email")
    cu.add_argument("--role", choices=ROLES, default="member")
    cu.add_argument("--plan", choices=PLAN_NAMES, default="member")
    cu.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    sr = admsub.add_parser("set-role", help="change the role of an account")
    sr.add_argument("email")
    sr.add_argument("role", choices=ROLES)
    sp = admsub.add_parser("set-plan", help="change the plan of an account (what a payment would do)")
    sp.add_argument("email")
    sp.add_argument("plan", choices=PLAN_NAMES)
    return p


def _dump(obj: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    sys.stdout.buffer.write(b"\n")


def main(argv: list[str] | None = None) -> int:
    """Run one command; a reader that stops early (``medcode show 99213 | head``) ends it quietly."""
    try:
        status = _main(argv)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        _drop_stdout()
        return EXIT_PIPE


def _drop_stdout() -> None:
    """Point the closed standard output at /dev/null, so that the flush at exit raises nothing."""
    import os

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a file (captured in-process): nothing is flushed to a pipe at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    conf = settings_mod.load()
    try:
        return COMMANDS[args.command](args, conf)
    except (MalformedCode, PricingError, UsageError, SearchError) as exc:
        if isinstance(exc, UnknownLocality):
            print(f"medcode: {exc}", file=sys.stderr)
            return EXIT_NOT_FOUND
        print(f"medcode: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UnknownCode as exc:
        hint = f"; nearest codes: {', '.join(exc.suggestions)}" if exc.suggestions else ""
        print(f"medcode: {exc}{hint}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except KnowledgeBaseMissing as exc:
        print(f"medcode: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND


_OPENED: dict[Path, Any] = {}  # the knowledge base build opened by this process (``_kb``)


def _kb(conf: settings_mod.Settings) -> Any:
    """The knowledge base under the home folder, opened once per process and build: a program that
    calls ``main`` many times does not reopen it each time; an ingest swaps in a new build folder,
    which is opened afresh."""
    from medcode.kb.db import MAIN_FILE
    from medcode.kb.store import open_kb

    home = Path(conf.home)
    build = (home if (home / MAIN_FILE).exists() else home / "kb").resolve()
    kb = _OPENED.get(build)
    if kb is None:
        kb = open_kb(home)
        _OPENED.clear()
        _OPENED[build] = kb
    return kb


def cmd_ingest(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    from medcode.ingest import IngestError, ingest
    from medcode.sources.layout import LayoutMismatch
    from medcode.terminal import ingest_progress

    data = args.dir or conf.data
    if data is None:
        raise UsageError("no data directory: pass DIR or set MEDCODE_DATA")
    progress, on_plan, finish = ingest_progress(quiet=args.quiet)
    try:
        summary = ingest(Path(data), conf.home, workers=args.workers, progress=progress, on_plan=on_plan)
    except (LayoutMismatch, IngestError) as exc:
        finish(None)
        print(f"medcode: ingest failed, the previous knowledge base is unchanged: {exc}", file=sys.stderr)
        return 1
    finish(summary)
    return 0


def cmd_show(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    from medcode.lookup import get_code
    from medcode.terminal import print_code

    kb = _kb(conf)
    page = get_code(kb, args.code, day=args.date, zip_code=args.zip, locality=args.locality)
    return _emit(args, page, print_code)


def _emit(args: argparse.Namespace, result: Any, render: Any) -> int:
    if args.json:
        _dump(result)
    else:
        render(result)
    return 0


def cmd_search(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    from medcode.search import search
    from medcode.terminal import print_search

    return _emit(
        args,
        search(_kb(conf), args.query, system=args.system, limit=args.limit, billable_only=args.billable, day=args.date),
        print_search,
    )


def cmd_check(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    from medcode.claims import ClaimInputError
    from medcode.claims import report as reports
    from medcode.claims.run import Sink, check_path
    from medcode.terminal import check_progress, print_check_summary

    suffix = Path(args.report).suffix.lower() if args.report else None
    if suffix is not None and suffix not in reports.WRITERS:
        raise UsageError(f"--report must end in {', '.join(reports.WRITERS)}, not {args.report!r}")
    if args.ack and _write_ack(args) is not None:
        return EXIT_USAGE
    kb = _kb(conf)
    files: list = []
    sinks: list[Sink] = []
    try:
        if suffix is not None:
            try:
                files.append(open(args.report, "wb"))  # noqa: SIM115 (closed below)
            except OSError as exc:
                raise UsageError(f"cannot write the report {args.report}: {exc.strerror or exc}") from None
            sinks.append(reports.WRITERS[suffix](files[-1]))
        if args.json:
            sinks.append(reports.JsonWriter(sys.stdout.buffer))
        advance, done = check_progress(quiet=args.quiet or args.json)
        try:
            summary, shown = check_path(
                kb,
                args.file,
                args.format,
                engine=args.engine,
                sinks=sinks,
                advance=advance,
                keep=21,
                spark_master=args.spark_master,
                home=str(conf.home),
            )
        except ClaimInputError as exc:
            done()
            print(f"medcode: {exc}", file=sys.stderr)
            return EXIT_USAGE
        done()
    finally:
        for fh in files:
            fh.close()
    if not args.json:
        print_check_summary(summary, shown if summary["claims"] <= 20 else [])
    return 0


def _write_ack(args: argparse.Namespace) -> str | None:
    """Writes the 999 of ``args.file`` to ``args.ack`` and lists its errors on stderr; the error
    that stopped it (None when written)."""
    from medcode.claims import ClaimInputError
    from medcode.claims.files import detect_format
    from medcode.claims.x12_ack import write_999
    from medcode.claims.x12_validate import validate_837

    try:
        if (args.format or detect_format(args.file)) != "x12":
            raise ClaimInputError(args.file, "--ack acknowledges X12 837P files only (--format x12)")
        with open(args.file, encoding="utf-8-sig", newline="") as fh:
            v = validate_837(fh.read(), args.file)
        Path(args.ack).write_text(write_999(v), encoding="ascii", errors="replace")
    except (ClaimInputError, OSError, UnicodeDecodeError) as exc:
        print(f"medcode: {exc}", file=sys.stderr)
        return str(exc)
    sets = [ts for g in v.groups for ts in g.sets]
    accepted = sum(ts.accepted for ts in sets)
    print(
        f"medcode: 999 written to {args.ack}: {accepted} of {len(sets)} transaction set(s) accepted, "
        f"{v.count:,} error(s)",
        file=sys.stderr,
    )
    for e in v.errors[:20]:
        print(f"  {e.where(args.file)}: {e.message}", file=sys.stderr)
    if v.count > 20:
        print(f"  ... and {v.count - 20:,} more (all of them in the 999)", file=sys.stderr)
    return None


def cmd_ptp(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    from medcode.lookup import ptp_pairs
    from medcode.terminal import print_ptp

    kb = _kb(conf)
    try:
        page = ptp_pairs(kb, args.code, direction=args.direction, day=args.date, offset=args.offset, limit=args.limit)
    except ValueError as exc:
        if isinstance(exc, MalformedCode):
            raise
        raise UsageError(str(exc)) from None
    return _emit(args, page, print_ptp)


def cmd_price(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    from medcode.pricing import price, price_all_localities
    from medcode.terminal import print_price, print_price_table

    kb = _kb(conf)
    if args.all_localities:
        rows = price_all_localities(kb, args.code, day=args.date, modifier=args.modifier)
        return _emit(args, {"data": rows, "count": len(rows)}, lambda r: print_price_table(r["data"]))
    result: Price = price(
        kb, args.code, zip_code=args.zip, locality=args.locality, day=args.date, modifier=args.modifier
    )
    return _emit(args, result, print_price)


def cmd_embed(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    from medcode.language.embed import EmbeddingFileError
    from medcode.language.vectors import CacheError, build_for_kb

    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    try:
        with Progress("embedding terms", *columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("embed", total=None)
            built = build_for_kb(_kb(conf), conf.home, lambda d, n: bar.update(task, completed=d, total=n))
    except (EmbeddingFileError, CacheError) as exc:
        print(f"medcode: {exc}", file=sys.stderr)
        return 1
    state = "already built" if built.existed else f"built in {built.seconds:.1f} s"
    print(f"embedding cache {built.directory}: {built.count:,} terms, {state}")
    return 0


def cmd_suggest(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    from medcode import casenote
    from medcode.terminal_suggest import print_suggestion

    try:
        text = casenote.read_file(args.note, casenote.max_bytes(conf.max_note_kb))
        llm_conf = casenote.llm_config(conf)
    except ValueError as exc:  # NoteError, or a MEDCODE_LLM_URL that is not http(s)
        raise UsageError(str(exc)) from None
    found = casenote.run(_kb(conf), text, day=args.date, setting=args.setting, include_all=args.all, llm_conf=llm_conf)
    if args.json:
        out = found.as_json()
        if args.all:
            out.setdefault("candidates", [])
        _dump(out)
    else:
        print_suggestion(found)
    return 0


def cmd_audit(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    from medcode import casenote
    from medcode.audit import audit, catalogue
    from medcode.terminal_audit import print_audit

    try:
        text = casenote.read_file(args.note, casenote.max_bytes(conf.max_note_kb))
    except casenote.NoteError as exc:
        raise UsageError(str(exc)) from None
    kb = _kb(conf)
    try:
        catalogue.validate(kb)  # the requirement catalogue: its codes must be in the knowledge base
    except catalogue.CatalogueError as exc:
        print(f"medcode: the audit's requirement catalogue cannot be used: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    try:
        found = audit(kb, text, args.codes, day=args.date)
    except MalformedCode as exc:
        raise UsageError(f"--code {exc.code!r}: {exc}") from None
    except UnknownCode as exc:
        hint = f"; nearest codes: {', '.join(exc.suggestions)}" if exc.suggestions else ""
        print(f"medcode: --code {exc.code}: {exc}{hint}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except ValueError as exc:  # more codes than the audit takes
        raise UsageError(str(exc)) from None
    return _emit(args, found.as_json() if args.json else found, print_audit)


def cmd_ask(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    from medcode import casenote
    from medcode.assistant import MAX_QUESTION
    from medcode.assistant.llm import answer_question
    from medcode.terminal_ask import print_answer

    question = " ".join(args.question.split())
    if not question:
        raise UsageError("the question is empty")
    if len(question) > MAX_QUESTION:
        raise UsageError(f"the question is {len(question):,} characters; at most {MAX_QUESTION:,}")
    try:
        llm_conf = casenote.llm_config(conf)
    except ValueError as exc:  # a MEDCODE_LLM_URL that is not http(s)
        raise UsageError(str(exc)) from None
    found = answer_question(_kb(conf), question, day=args.date, zip_code=args.zip, conf=llm_conf)
    return _emit(args, found.as_json() if args.json else found, print_answer)


def cmd_releases(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    from medcode.terminal import print_releases

    kb = _kb(conf)
    refs = list(kb.sources.values())
    return _emit(args, {"data": refs, "count": len(refs)}, lambda r: print_releases(r["data"]))


def cmd_serve(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    import os

    import uvicorn

    os.environ["MEDCODE_HOME"] = str(conf.home)
    from medcode.kb.store import open_kb

    open_kb(conf.home).close()  # fail now, not in every worker, when there is no knowledge base
    status = _serve_database(conf)
    if status:
        return status
    smtp_port = conf.smtp_port if args.smtp_port is None else args.smtp_port
    service = _consult_service(conf, args.host or conf.host, smtp_port)
    if service is None:
        return EXIT_USAGE
    try:
        uvicorn.run(
            "medcode.web.app:create_app",
            factory=True,
            host=args.host or conf.host,
            port=args.port or conf.port,
            workers=args.workers or conf.workers,
            log_level="warning",
            access_log=False,
        )
    finally:
        service.stop()
    return 0


def _consult_service(conf: settings_mod.Settings, host: str, smtp_port: int) -> Any:
    """The consult mail service of this process (drafts, daily purge; SMTP when ``smtp_port``; IMAP when
    MEDCODE_IMAP_URL), started; None (after a message) when the SMTP port cannot be opened."""
    from medcode.app import consult_server, db

    service = consult_server.Service(db.engine(db.database_url(conf)), conf, host=host, smtp_port=smtp_port)
    try:
        service.start()
    except (OSError, RuntimeError, TimeoutError) as exc:
        print(f"medcode: cannot receive mail on {host}:{smtp_port}: {exc}", file=sys.stderr)
        service.stop()
        return None
    if smtp_port:
        print(f"medcode: receiving consult mail on {host}:{smtp_port}", file=sys.stderr)
    return service


def cmd_mail(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    import signal
    import threading

    from medcode.app import db

    try:
        db.require_current(db.database_url(conf))
    except db.NotMigrated as exc:
        print(f"medcode: {exc}", file=sys.stderr)
        return EXIT_USAGE
    service = _consult_service(conf, args.host, args.port or conf.smtp_port or 2525)
    if service is None:
        return EXIT_USAGE
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        while not done.wait(1.0):
            pass
    finally:
        service.stop()
    return 0


def _serve_database(conf: settings_mod.Settings) -> int:
    """0 when the application database is at the newest migration. A self-hosted install (quotas off) with
    no SQLite file yet gets one made; anything else behind the newest migration refuses to serve."""
    from sqlalchemy.exc import SQLAlchemyError

    from medcode.app import db

    url = db.database_url(conf)
    path = db.sqlite_path(url)
    try:
        if path is not None and not path.exists() and not conf.quotas:
            db.upgrade(url)
            print(f"medcode: made the application database {path}", file=sys.stderr)
        db.require_current(url)
    except db.NotMigrated as exc:
        print(f"medcode: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SQLAlchemyError as exc:
        print(
            f"medcode: cannot open the application database {db.safe_url(url)}: {exc.__class__.__name__}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    finally:
        db.dispose_all()  # the workers open their own connections
    return 0


def cmd_db(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from medcode.app import db

    url = db.database_url(conf)
    try:
        if args.db_command == "upgrade":
            print(f"{db.safe_url(url)}: at revision {db.upgrade(url)} (newest)")
            return 0
        found = db.revision(url)
    except SQLAlchemyError as exc:
        print(f"medcode: cannot open the application database {db.safe_url(url)}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    newest = db.head()
    state = "newest" if found == newest else f"behind: run `medcode db upgrade` to reach {newest}"
    print(f"{db.safe_url(url)}: at revision {found or '(none)'} ({state})")
    return 0 if found == newest else EXIT_NOT_FOUND


def cmd_admin(args: argparse.Namespace, conf: settings_mod.Settings) -> int:
    from medcode.app import accounts, db

    url = db.database_url(conf)
    try:
        db.require_current(url)
    except db.NotMigrated as exc:
        print(f"medcode: {exc}", file=sys.stderr)
        return EXIT_USAGE
    eng = db.engine(url)
    try:
        if args.admin_command == "create-user":
            user = accounts.create_user(eng, args.email, _new_password(args.password_stdin), args.role, args.plan)
            print(f"made account {user.id} {user.email} (role {user.role}, plan {user.plan})")
            return 0
        found = accounts.find_user(eng, args.email)
        if found is None:
            print(f"medcode: no account with the e-mail {args.email!r}", file=sys.stderr)
            return EXIT_NOT_FOUND
        if args.admin_command == "set-role":
            changed = accounts.set_role(eng, found.id, args.role)
        else:
            changed = accounts.set_plan(eng, found.id, args.plan)
    except accounts.AccountError as exc:
        print(f"medcode: {exc.field}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    if changed is None:
        print(f"medcode: no account with the e-mail {args.email!r}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"account {changed.id} {changed.email}: role {changed.role}, plan {changed.plan}")
    return 0


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise UsageError("the two passwords differ")
    return first


COMMANDS = {
    "ingest": cmd_ingest,
    "search": cmd_search,
    "show": cmd_show,
    "ptp": cmd_ptp,
    "check": cmd_check,
    "price": cmd_price,
    "releases": cmd_releases,
    "embed": cmd_embed,
    "suggest": cmd_suggest,
    "audit": cmd_audit,
    "ask": cmd_ask,
    "serve": cmd_serve,
    "mail": cmd_mail,
    "db": cmd_db,
    "admin": cmd_admin,
}


if __name__ == "__main__":
    sys.exit(main())
