"""Shared fixtures: the real official files, ingested once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medcode import settings
from medcode.ingest import Summary, ingest
from medcode.kb.store import KnowledgeBase, open_kb

TESTS = Path(__file__).parent
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
    home = tmp_path_factory.mktemp("home")
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
