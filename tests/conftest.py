"""Shared fixtures: the real official files, ingested once per test session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from medcode import settings
from medcode.ingest import Summary, ingest
from medcode.kb.store import KnowledgeBase, open_kb

TESTS = Path(__file__).parent
# The semantic step needs an embedding cache that takes minutes to build; tests run without it (and
# without a background build eating the cores) unless they set it up themselves. A value the
# developer set is kept.
os.environ.setdefault("MEDCODE_EMBED", "off")
HAND_MADE = TESTS / "data"


def _data_dir() -> Path:
    conf = settings.load()
    if conf.data is None or not conf.data.is_dir():
        pytest.exit("the official files are missing: set MEDCODE_DATA or put them in ../shared/data", 2)
    return conf.data


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _data_dir()


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, Summary]:
    # MEDCODE_TEST_HOME reuses a knowledge base built before (for quick runs while developing;
    # CI leaves it unset and ingests afresh). Delete the folder after changing ingest.
    reuse = os.environ.get("MEDCODE_TEST_HOME")
    home = Path(reuse) if reuse else tmp_path_factory.mktemp("home")
    if reuse and (home / "kb").exists():
        return home, Summary(home / "kb")  # test_sources needs a fresh ingest
    summary = ingest(data_dir, home, workers=2)
    return home, summary


@pytest.fixture(scope="session")
def home(built: tuple[Path, Summary]) -> Path:
    return built[0]


@pytest.fixture(scope="session")
def kb(home: Path) -> KnowledgeBase:
    return open_kb(home)


@pytest.fixture()
def cli_env(home: Path, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MEDCODE_HOME"] = str(home)
    env["MEDCODE_DATA"] = str(data_dir)
    return env


@pytest.fixture(scope="session")
def server(home: Path, data_dir: Path):
    """A real uvicorn server over the test knowledge base, in its own process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MEDCODE_HOME=str(home), MEDCODE_DATA=str(data_dir))
    proc = subprocess.Popen(
        [sys.executable, "-m", "medcode.cli", "serve", "--port", str(port), "--workers", "1"], env=env
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            httpx.get(base + "/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("server did not start")
    yield base
    proc.terminate()
    proc.wait(10)


DATA_FIXTURES = frozenset({"data_dir", "built", "home", "kb", "cli_env", "server"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need none of the official files form the unit tier (``pytest -m unit``): hand-made
    files in tests/data only, seconds, no ../shared/data needed."""
    for item in items:
        if not DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.unit)
