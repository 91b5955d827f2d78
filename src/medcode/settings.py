"""Every setting medcode reads, declared once.

Settings come from the environment. Only the CLI, the web layer and the public facade in
``medcode/__init__.py`` read them; core functions take explicit arguments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


def _default_data() -> str:
    """../shared/data beside the working directory or beside the checkout, when it exists."""
    here = Path(__file__).resolve()
    for base in (Path.cwd(), *here.parents):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return str(candidate)
    return ""


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "MEDCODE_DATA",
        "../shared/data (when it exists)",
        "Directory of official CMS/CDC files that `medcode ingest` reads.",
    ),
    Setting(
        "MEDCODE_HOME",
        "~/.medcode",
        "Where medcode keeps its knowledge base (kb/) and state.",
    ),
    Setting("MEDCODE_HOST", "127.0.0.1", "Address `medcode serve` listens on."),
    Setting("MEDCODE_PORT", "8000", "Port `medcode serve` listens on."),
    Setting("MEDCODE_WORKERS", "1", "Number of server worker processes for `medcode serve`."),
    Setting(
        "MEDCODE_CACHE_MB",
        "64",
        "Megabytes of encoded API answers each server worker keeps (0 turns the cache off). The "
        "knowledge base never changes under a running server, so an answer stays right for its life.",
    ),
)


@dataclass(frozen=True)
class Settings:
    data: Path | None
    home: Path
    host: str
    port: int
    workers: int
    cache_mb: int = 64

    @property
    def kb_path(self) -> Path:
        return self.home / "kb"


class SettingError(ValueError):
    """A setting has a value medcode cannot use."""


def load(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    data = env.get("MEDCODE_DATA") or _default_data()
    home = env.get("MEDCODE_HOME") or str(Path.home() / ".medcode")
    try:
        port = int(env.get("MEDCODE_PORT", "8000"))
        workers = int(env.get("MEDCODE_WORKERS", "1"))
        cache_mb = int(env.get("MEDCODE_CACHE_MB", "64"))
    except ValueError as exc:
        raise SettingError(f"MEDCODE_PORT, MEDCODE_WORKERS and MEDCODE_CACHE_MB must be whole numbers: {exc}") from exc
    if cache_mb < 0:
        raise SettingError(f"MEDCODE_CACHE_MB must be 0 or more, not {cache_mb}")
    return Settings(
        data=Path(data).expanduser() if data else None,
        home=Path(home).expanduser(),
        host=env.get("MEDCODE_HOST", "127.0.0.1"),
        port=port,
        workers=workers,
        cache_mb=cache_mb,
    )
