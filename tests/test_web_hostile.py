"""The web server under hostile and concurrent use, over real HTTP: checks off the event loop,
concurrent checks on per-thread connections, size caps answered before the body is read, the job
queue, job folders as patient data (modes, restart, expiry), browser defences, bounded integers
and clear 4xx answers for malformed claims.

Tests that need settings of their own (small caps, short keeping time, one job slot) start their
own ``medcode serve`` over a home of their own that links to the test knowledge base.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

CODES = ("99213", "20610", "97110", "20702", "29881", "93010", "36415", "71046", "J1100", "G0439")
HEAD = "claim_id,date,place_of_service,zip,diagnoses,line,code,modifiers,units,pointers\n"


def claim(i: int, lines: int = 3) -> dict:
    return {
        "id": f"T{i}",
        "date": "2026-05-01",
        "place_of_service": "11",
        "zip": "10001",
        "diagnoses": ["M17.11", "E11.9"],
        "lines": [{"code": CODES[(i + k) % len(CODES)], "units": 1 + k % 2, "pointers": [1]} for k in range(lines)],
    }


def csv_body(lines: int, prefix: str = "B") -> bytes:
    codes = ("99213", "20610", "97110", "20702")
    rows = [f"{prefix}{i // 4},2026-05-01,11,10001,M17.11,{i % 4 + 1},{codes[i % 4]},,1,1" for i in range(lines)]
    return (HEAD + "\n".join(rows) + "\n").encode()


@contextlib.contextmanager
def serve(home: Path, **settings: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``medcode serve`` over ``home`` with the given settings, until the block ends."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MEDCODE_HOME=str(home), **settings)
    proc = subprocess.Popen(
        [sys.executable, "-m", "medcode.cli", "serve", "--port", str(port), "--workers", "1"], env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not start")
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(20)


@pytest.fixture()
def own_home(home: Path, tmp_path: Path) -> Path:
    """A home of its own (its own jobs/) over the test knowledge base."""
    mine = tmp_path / "home"
    mine.mkdir()
    (mine / "kb").symlink_to((home / "kb").resolve())
    return mine


@pytest.fixture(scope="module")
def capped(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One server with caps of 1 MB (upload and API body) over a home of its own, for the tests of
    refusals (each leaves the jobs folder empty, as it found it)."""
    mine = tmp_path_factory.mktemp("capped")
    (mine / "kb").symlink_to((home / "kb").resolve())
    with serve(mine, MEDCODE_MAX_UPLOAD_MB="1", MEDCODE_MAX_BODY_MB="1") as (base, _):
        yield base, mine


def wait_job(base: str, job: str, states: tuple[str, ...] = ("done", "failed"), seconds: float = 120) -> dict:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        status = httpx.get(f"{base}{job}/status", timeout=30).json()
        if status["state"] in states:
            return status
        time.sleep(0.1)
    pytest.fail(f"{job} did not reach {states}: {status}")


def post_file(base: str, name: str, body: bytes, **kw) -> httpx.Response:
    return httpx.post(
        base + "/check",
        data={"format": "auto"},
        files={"file": (name, body)},
        timeout=120,
        follow_redirects=False,
        **kw,
    )


# --- 1. no check on the event loop ------------------------------------------------------------


def test_health_answers_while_a_check_runs(server):
    body = json.dumps({"claims": [claim(i, lines=10) for i in range(3000)]}).encode()  # 30,000 lines
    answer: dict[str, httpx.Response] = {}

    def check() -> None:
        answer["r"] = httpx.post(
            server + "/api/claims/check", content=body, headers={"content-type": "application/json"}, timeout=300
        )

    worker = threading.Thread(target=check)
    began = time.monotonic()
    worker.start()
    time.sleep(0.3)  # the body is sent and the check has started
    waits = []
    while worker.is_alive():
        started = time.monotonic()
        assert httpx.get(server + "/healthz", timeout=30).json() == {"status": "ok"}
        waits.append(time.monotonic() - started)
        time.sleep(0.05)
    worker.join()
    took = time.monotonic() - began
    assert answer["r"].status_code == 200 and answer["r"].json()["summary"]["lines"] == 30_000
    # Answered while the check ran, not after it: on the event loop the first health check would
    # wait for the whole check. (The check's thread shares the interpreter, so a health check
    # waits a moment on a loaded machine; bounded by a share of the check's time.)
    assert len(waits) >= 5, f"the check ended too soon to test anything ({took:.1f} s)"
    assert max(waits) < max(1.0, took / 3), (took, waits)


# --- 2. concurrent checks ----------------------------------------------------------------------


def test_50_concurrent_api_checks_equal_serial_results(server):
    bodies = [json.dumps(claim(i, lines=1 + i % 5)).encode() for i in range(50)]

    def post(body: bytes) -> httpx.Response:
        return httpx.post(
            server + "/api/claims/check", content=body, headers={"content-type": "application/json"}, timeout=120
        )

    serial = [post(b) for b in bodies]
    with ThreadPoolExecutor(50) as pool:
        concurrent = list(pool.map(post, bodies))
    assert [r.status_code for r in concurrent] == [200] * 50
    assert [r.json() for r in concurrent] == [r.json() for r in serial]


@pytest.mark.slow
def test_concurrent_page_checks_and_background_jobs(server):
    texts = [json.dumps(claim(i, lines=4)) for i in range(10)]

    def page(text: str) -> httpx.Response:
        return httpx.post(server + "/check", data={"text": text, "format": "auto"}, timeout=120)

    with ThreadPoolExecutor(10) as pool:
        pages = list(pool.map(page, texts))
    assert [r.status_code for r in pages] == [200] * 10
    assert all(f"Claim T{i}" in r.text for i, r in enumerate(pages))

    big = [csv_body(12_000, prefix=f"J{j}-") for j in range(8)]  # over 512 KB each: background jobs
    assert min(len(b) for b in big) > 512 * 1024
    with ThreadPoolExecutor(8) as pool:
        started = list(pool.map(lambda b: post_file(server, "big.csv", b), big))
    assert [r.status_code for r in started] == [303] * 8
    finished = [wait_job(server, r.headers["location"]) for r in started]
    assert [s["state"] for s in finished] == ["done"] * 8, [s.get("error") for s in finished]
    assert [s["summary"]["lines"] for s in finished] == [12_000] * 8


# --- 3. limits ---------------------------------------------------------------------------------


def raw_request(base: str, head: str, chunks: Iterator[bytes] | None = None) -> tuple[str, int]:
    """Sends a request by hand (the body as the server will take it) and returns the status line
    and how many body bytes were sent before the server answered."""
    host, port = base.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        reply = b""
        for chunk in chunks or ():
            with contextlib.suppress(BlockingIOError):
                reply += sock.recv(65536)
            if reply:
                break
            try:
                sock.setblocking(True)
                sock.sendall(chunk)
                sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            finally:
                sock.setblocking(False)
        sock.setblocking(True)
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while b"\r\n" not in reply:
                more = sock.recv(65536)
                if not more:
                    break
                reply += more
    return reply.split(b"\r\n", 1)[0].decode(), sent


def chunked(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    for _ in range(total // size):
        yield f"{size:x}\r\n".encode() + b"x" * size + b"\r\n"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/check", "multipart/form-data; boundary=XyZ"),
        ("/api/claims/check", "application/json"),
    ],
    ids=["page", "api"],
)
def test_declared_length_over_the_cap_is_refused_unread(capped, path, content_type):
    base, mine = capped
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {3 * 2**30}\r\n\r\n"
    status, sent = raw_request(base, head)
    assert (status, sent) == ("HTTP/1.1 413 Request Entity Too Large", 0)
    assert list((mine / "jobs").iterdir()) == []


@pytest.mark.parametrize(
    ("path", "content_type", "prefix"),
    [
        (
            "/check",
            "multipart/form-data; boundary=XyZ",
            b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n',
        ),
        (
            "/check",
            "multipart/form-data; boundary=XyZ",
            b'--XyZ\r\nContent-Disposition: form-data; name="text"\r\n\r\n',
        ),
        ("/api/claims/check", "text/csv", b""),
    ],
    ids=["page-file", "page-text", "api"],
)
def test_streamed_body_over_the_cap_is_refused_while_it_is_read(capped, path, content_type, prefix):
    base, mine = capped
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
    first = f"{len(prefix):x}\r\n".encode() + prefix + b"\r\n" if prefix else b""
    status, sent = raw_request(base, head, iter([first, *chunked(64 * 2**20)]))
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert sent < 32 * 2**20  # the server answered long before the 64 MB were sent
    time.sleep(0.5)
    assert list((mine / "jobs").iterdir()) == []  # the partial upload is gone


def test_upload_caps_on_the_page_and_the_api(capped):
    base, mine = capped
    r = post_file(base, "big.csv", csv_body(30_000))  # 1.3 MB
    assert r.status_code == 413 and "The file is larger than the limit of 1 MB." in r.text
    r = httpx.post(base + "/check", data={"text": "x" * (2 * 2**20 + 1), "format": "csv"}, timeout=60)
    assert r.status_code == 413 and "The pasted text is larger than the limit of 2 MB." in r.text
    r = httpx.post(
        base + "/api/claims/check", content=csv_body(30_000), headers={"content-type": "text/csv"}, timeout=60
    )
    assert (r.status_code, r.json()["error"]["type"]) == (413, "too_large")
    assert httpx.get(base + "/check").text.count("Files up to 1 MB") == 1
    assert list((mine / "jobs").iterdir()) == []


@pytest.mark.slow
def test_queue_caps_background_jobs_and_shows_places(own_home):
    with serve(own_home, MEDCODE_JOBS="1", MEDCODE_JOB_QUEUE="2") as (base, _):
        first = post_file(base, "a.csv", csv_body(80_000, "A"))
        assert first.status_code == 303
        wait_job(base, first.headers["location"], ("running",))
        queued = [post_file(base, f"{n}.csv", csv_body(12_000, n)) for n in ("B", "C")]
        assert [r.status_code for r in queued] == [303, 303]
        statuses = [httpx.get(base + r.headers["location"] + "/status").json() for r in queued]
        assert [(s["state"], s["position"]) for s in statuses] == [("queued", 1), ("queued", 2)]
        page = httpx.get(base + queued[1].headers["location"]).text
        assert 'place <span id="job-position">2</span> in the queue' in page and "<strong>C.csv</strong>" in page
        refused = post_file(base, "d.csv", csv_body(12_000, "D"))
        assert refused.status_code == 503 and refused.headers["retry-after"] == "60"
        assert "The server is busy: 2 checks are waiting." in refused.text
        done = [wait_job(base, r.headers["location"]) for r in (first, *queued)]
        assert [s["state"] for s in done] == ["done"] * 3
        assert len(list((own_home / "jobs").iterdir())) == 3  # the refused one left no folder


def peak_mb(pid: int) -> int:
    """Peak resident memory of a process (VmHWM), in megabytes."""
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) // 1024


@pytest.mark.slow
def test_a_million_line_web_job_stays_under_1_5_gb(own_home, tmp_path):
    path = tmp_path / "c1m.csv"
    path.write_bytes(csv_body(1_000_000))
    with serve(own_home) as (base, proc):
        with path.open("rb") as fh:
            r = httpx.post(
                base + "/check",
                data={"format": "auto"},
                files={"file": ("c1m.csv", fh)},
                timeout=300,
                follow_redirects=False,
            )
        assert r.status_code == 303
        status = wait_job(base, r.headers["location"], seconds=600)
        assert (status["state"], status["summary"]["lines"]) == ("done", 1_000_000)
        assert peak_mb(proc.pid) < 1536
        report = httpx.get(base + r.headers["location"] + "/report.html").text
        assert "This report shows the first 1,000 of 250,000 claims" in report


# --- 4. jobs hold patient data -----------------------------------------------------------------


def test_job_folders_are_private_and_uploads_deleted(own_home):
    with serve(own_home) as (base, _):
        r = post_file(base, "big.csv", csv_body(12_000))
        wait_job(base, r.headers["location"])
        small = httpx.post(base + "/check", data={"text": json.dumps(claim(1)), "format": "auto"}, timeout=60)
        assert small.status_code == 200
    root = own_home / "jobs"
    modes = {
        p.relative_to(own_home).as_posix().split("/", 2)[-1]: stat.S_IMODE(p.stat().st_mode)
        for p in [root, *root.rglob("*")]
    }
    folders = [p for p in root.iterdir()]
    assert len(folders) == 2 and modes["jobs"] == 0o700
    for folder in folders:
        names = sorted(p.name for p in folder.iterdir())
        assert names == ["lock", "report.csv", "report.html", "report.json", "shown.json", "status.json"]
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert {stat.S_IMODE((folder / n).stat().st_mode) for n in names} == {0o600}


def test_restart_mid_job_fails_the_job_and_deletes_its_upload(own_home):
    with serve(own_home, MEDCODE_JOBS="1") as (base, proc):
        running = post_file(base, "a.csv", csv_body(400_000, "A"))
        wait_job(base, running.headers["location"], ("running",))
        waiting = post_file(base, "b.csv", csv_body(12_000, "B"))
        assert httpx.get(base + waiting.headers["location"] + "/status").json()["state"] == "queued"
        proc.send_signal(signal.SIGKILL)  # a crash: nothing is cleaned up
        proc.wait(10)
    jobs = [own_home / "jobs" / r.headers["location"].rsplit("/", 1)[1] for r in (running, waiting)]
    assert all((j / "input.upload").exists() for j in jobs)
    with serve(own_home) as (base, _):
        for r, folder in zip((running, waiting), jobs):
            status = httpx.get(base + r.headers["location"] + "/status").json()
            assert status["state"] == "failed"
            assert status["error"] == (
                "The server stopped before this check ended; the uploaded claims were deleted. Check the file again."
            )
            assert sorted(p.name for p in folder.iterdir()) == ["lock", "status.json"]
            assert "The server stopped before this check ended" in httpx.get(base + r.headers["location"]).text


def test_reports_expire_on_a_timer(own_home):
    with serve(own_home, MEDCODE_KEEP_MINUTES="0.05") as (base, _):  # 3 seconds, swept every second
        r = httpx.post(base + "/check", data={"text": json.dumps(claim(1)), "format": "auto"}, timeout=60)
        job = re.search(r"/check/jobs/([A-Za-z0-9_-]{16})/report\.json", r.text).group(1)
        assert httpx.get(f"{base}/check/jobs/{job}/report.json").status_code == 200
        time.sleep(3.2)  # promised time passed: no report, even before the sweep
        assert httpx.get(f"{base}/check/jobs/{job}/report.json").status_code == 404
        for _ in range(50):  # and the timer deletes the folder with no new check started
            if not (own_home / "jobs" / job).exists():
                break
            time.sleep(0.1)
        assert not (own_home / "jobs" / job).exists()
    old = own_home / "jobs" / "AAAAAAAAAAAAAAAA"  # expired while the server was down
    old.mkdir(mode=0o700)
    (old / "status.json").write_text(json.dumps({"state": "done", "finished": 1.0, "expires": 2.0}))
    with serve(own_home):
        assert not old.exists()  # swept at start-up


@pytest.mark.parametrize(
    ("data", "files"),
    [
        ({"format": "auto"}, None),
        ({"text": "   ", "format": "auto"}, None),
        ({"text": "{}", "format": "nonsense"}, None),
        ({"format": "auto"}, {"file": ("empty.csv", b"")}),
    ],
    ids=["nothing", "blank", "bad-format", "empty-file"],
)
def test_rejected_submissions_leave_no_folder(capped, data, files):
    base, mine = capped
    r = httpx.post(base + "/check", data=data, files=files, timeout=30)
    assert r.status_code == 422
    assert list((mine / "jobs").iterdir()) == []


def test_findings_name_the_input_not_the_server_path(server, home):
    bad = (
        '{"id": "P1", "date": "2026-05-01", "zip": "10001", "diagnoses": ["M17.11"], '
        '"lines": [{"code": "99213", "charge": "abc", "pointers": [1]}]}'
    )
    pasted = httpx.post(server + "/check", data={"text": bad, "format": "json"}, timeout=60)
    uploaded = post_file(server, "mine.json", bad.encode())
    for r, label in ((pasted, "pasted text"), (uploaded, "mine.json")):
        assert r.status_code == 200
        assert f"{label}:$.lines[0].charge: charge:" in r.text
        job = re.search(r"/check/jobs/([A-Za-z0-9_-]{16})/report\.json", r.text).group(1)
        for kind in ("json", "csv", "html"):
            report = httpx.get(f"{server}/check/jobs/{job}/report.{kind}").text
            assert f"{label}:$.lines[0].charge" in report and "/jobs/" not in report, kind
    failed = httpx.post(server + "/check", data={"format": "json"}, files={"file": ("x.json", b"{not json")})
    assert failed.status_code == 422 and "x.json:1:2: not JSON" in failed.text and "/jobs/" not in failed.text


def test_background_reports_name_the_uploaded_file(server):
    body = csv_body(12_000).replace(
        b"\nB0,2026-05-01,11,10001,M17.11,1,99213,,1,1\n", b"\nB0,2026-05-01,11,10001,M17.11,1,99213,,x,1\n"
    )
    assert b",x,1\n" in body and len(body) > 512 * 1024  # checked by the batch engine in the background
    r = post_file(server, "bad units.csv", body)
    assert wait_job(server, r.headers["location"])["state"] == "done"
    for kind in ("json", "csv", "html"):
        report = html.unescape(httpx.get(f"{server}{r.headers['location']}/report.{kind}").text)
        assert "bad units.csv:2:9: units: 'x' is not a whole number of units" in report, kind
        assert "/jobs/" not in report and "input.upload" not in report, kind


def test_text_sent_as_a_file_part_is_read_as_text(server):
    text = json.dumps(claim(7, lines=2))
    r = httpx.post(
        server + "/check", files={"text": ("claim.json", text.encode()), "format": (None, "auto")}, timeout=60
    )
    assert r.status_code == 200 and "Claim T7" in r.text and "UploadFile" not in r.text


# --- 5. bounded integers, clear 4xx for malformed claims ---------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/codes/29881/ptp?offset=99999999999999999999", "query.offset"),
        ("/api/codes/29881/ptp?offset=1000000001", "query.offset"),
        ("/api/codes/29881/ptp?limit=9223372036854775808", "query.limit"),
        ("/api/search?q=knee&limit=99999999999999999999", "query.limit"),
    ],
    ids=["offset-huge", "offset-over", "limit-huge", "search-limit"],
)
def test_integer_overflow_api(server, path, field):
    r = httpx.get(server + path)
    assert r.status_code == 422 and r.json()["error"]["field"] == field


@pytest.mark.parametrize(
    "query",
    ["c1=9223372036854775808", "c2=99999999999999999999", "c1=1000000001"],
    ids=["c1-int64", "c2-huge", "c1-over"],
)
def test_integer_overflow_page(server, query):
    r = httpx.get(f"{server}/codes/29881?{query}")
    name = query.split("=")[0]
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert f"cannot be used (query.{name}:" in r.text


MALFORMED = [
    ("json", '{"id": "A", "date": "2026-05-01", "diagnoses": 5, "lines": [{"code": "99213"}]}', "$.diagnoses"),
    ("json", '{"id": "A", "date": "2026-05-01", "lines": [{"code": "99213", "units": Infinity}]}', "1:"),
    ("json", '{"id": "A", "date": "2026-05-01", "lines": [{"code": "99213", "units": 1e309}]}', "1:"),
    ("json", "[" * 100_000 + "]" * 100_000, "1:"),
    ("json", '{"id": "A", "date": "2026-05-01", "lines": [{"code": "99213", "pointers": [1e309]}]}', "1:"),
    ("csv", "claim_id,date,code,units\nA,2026-05-01,99213,inf\n", ":2:"),
    ("csv", "claim_id,date,code,units\nA,2026-05-01,99213," + "9" * 200_000 + "\n", ":2"),
    ("fhir", '{"resourceType": "Claim", "id": "F", "item": ["x"]}', "$.item[0]"),
    (
        "fhir",
        '{"resourceType": "Claim", "id": "F", "provider": "x", "item": [{"sequence": 1, '
        '"productOrService": {"coding": [{"code": "99213"}]}}]}',
        "$.provider",
    ),
    ("fhir", '{"resourceType": "Bundle", "entry": {}}', "$.entry"),
]


@pytest.mark.parametrize(
    ("fmt", "body", "where"),
    MALFORMED,
    ids=[
        "diagnoses-int",
        "units-inf",
        "units-1e309",
        "deep",
        "pointer-1e309",
        "csv-inf",
        "csv-huge-field",
        "fhir-item",
        "fhir-provider",
        "fhir-entry",
    ],
)
def test_malformed_claims_get_a_4xx_or_finding_naming_the_position(server, fmt, body, where):
    types = {"json": "application/json", "csv": "text/csv", "fhir": "application/fhir+json"}
    r = httpx.post(
        server + "/api/claims/check", content=body.encode(), headers={"content-type": types[fmt]}, timeout=60
    )
    if r.status_code == 200:  # read, with the value refused as a validity.bad_input finding
        found = [f["message"] for c in r.json()["claims"] for f in c["findings"] if f["id"] == "validity.bad_input"]
        assert any(where in m for m in found), found
    else:
        assert r.status_code == 422, r.text
        assert where in r.json()["error"]["message"] or where in (r.json()["error"]["field"] or "")
    page = httpx.post(server + "/check", data={"text": body, "format": fmt}, timeout=60)
    assert page.status_code in (200, 422) and "The check failed" not in page.text
    assert where in html.unescape(page.text)


# --- 6. browser defences -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/codes/20702",
        "/api/codes/20702",
        "/static/site.js",
        "/no/such/page",
        "/api/codes/2x",
        "/docs",
        "/openapi.json",
    ],
    ids=["home", "page", "api", "static", "404", "api-422", "docs", "schema"],
)
def test_security_headers(server, path):
    r = httpx.get(server + path)
    assert r.headers["content-security-policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    assert (r.headers["x-content-type-options"], r.headers["referrer-policy"], r.headers["x-frame-options"]) == (
        "nosniff",
        "same-origin",
        "DENY",
    )


def test_api_docs_are_served_from_the_package(server):
    r = httpx.get(server + "/docs")
    assert r.status_code == 200
    assert re.findall(r'(?:src|href)="(?:https?:)?//', r.text) == []  # nothing from another site
    spec = httpx.get(server + "/openapi.json").json()
    for path in spec["paths"]:
        assert f"<code>GET {path}</code>" in r.text or f"<code>POST {path}</code>" in r.text, path


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
    ids=["none", "text-plain", "form", "multipart", "xml"],
)
def test_bodies_that_are_not_claims_are_refused_with_415(server, content_type):
    headers = {"content-type": content_type} if content_type else {}
    r = httpx.post(server + "/api/claims/check", content=json.dumps(claim(1)).encode(), headers=headers)
    assert (r.status_code, r.json()["error"]["type"]) == (415, "unsupported_media_type")


def test_the_check_form_takes_forms_only(capped):
    base, mine = capped
    r = httpx.post(base + "/check", content=json.dumps(claim(1)).encode(), headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert "send the form as multipart/form-data or application/x-www-form-urlencoded" in r.text
    assert list((mine / "jobs").iterdir()) == []


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"origin": "https://evil.example"}, 403),
        ({"origin": "null"}, 403),
        ({"sec-fetch-site": "cross-site"}, 403),
        ({}, 200),
    ],
    ids=["other-origin", "null-origin", "fetch-metadata", "no-origin"],
)
def test_cross_site_posts_are_refused(server, headers, status):
    r = httpx.post(
        server + "/check", data={"text": json.dumps(claim(1)), "format": "auto"}, headers=headers, timeout=60
    )
    assert r.status_code == status
    same = httpx.post(
        server + "/check",
        data={"text": json.dumps(claim(1)), "format": "auto"},
        timeout=60,
        headers={"origin": server, "sec-fetch-site": "same-origin"},
    )
    assert same.status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/", "/codes/20702", "/search?q=knee", "/check", "/docs", "/api/codes/20702", "/static/site.css"],
    ids=["home", "code", "search", "check", "docs", "api", "static"],
)
def test_head_answers_like_get_without_a_body(server, path):
    got, head = httpx.get(server + path), httpx.head(server + path)
    assert (head.status_code, head.content) == (got.status_code, b"")
    assert head.headers["content-type"] == got.headers["content-type"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/codes/20702", "GET, HEAD"),
        ("DELETE", "/check", "GET, HEAD, POST"),
        ("GET", "/api/claims/check", "POST"),
        ("PUT", "/api/codes/20702", "GET, HEAD"),
    ],
    ids=["post-page", "delete-check", "get-api-post", "put-api"],
)
def test_wrong_method_is_405_with_allow(server, method, path, allow):
    r = httpx.request(method, server + path, headers={"content-type": "application/json"})
    assert (r.status_code, r.headers["allow"]) == (405, allow)
