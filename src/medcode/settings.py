"""Every setting medcode reads, declared once.

Settings come from the environment. Only the CLI, the web layer and the public facade in
``medcode/__init__.py`` read them; core functions take explicit arguments.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
    Setting(
        "MEDCODE_MAX_UPLOAD_MB",
        "512",
        "Largest claim file (megabytes) the web claim checker accepts; the upload is streamed to disk "
        "and a bigger one is refused with 413 before more than this is read.",
    ),
    Setting(
        "MEDCODE_MAX_BODY_MB",
        "20",
        "Largest body (megabytes) of `POST /api/claims/check`; a bigger one is refused with 413 before "
        "more than this is read.",
    ),
    Setting(
        "MEDCODE_JOBS",
        "1",
        "Background claim checks (large uploads) each server worker runs at once; the others wait in "
        "a queue and their page shows their place in it.",
    ),
    Setting(
        "MEDCODE_JOB_QUEUE",
        "20",
        "Background claim checks each server worker lets wait; past that a new one is refused with 503.",
    ),
    Setting(
        "MEDCODE_KEEP_MINUTES",
        "60",
        "Minutes the reports of a web claim check are kept after it ends (deleted on a timer, and at "
        "start-up); a fraction such as 0.5 is allowed.",
    ),
    Setting(
        "MEDCODE_EMBED",
        "background",
        "When the embedding cache of the clinical language layer is missing: `background` builds it in a "
        "low-priority thread while search works lexically, `wait` builds it before answering, `off` never "
        "builds it (search stays lexical; `medcode embed` still builds it).",
    ),
    Setting(
        "MEDCODE_EMBED_THREADS",
        "1",
        "Threads the embedding model and the semantic search use per query (`medcode embed` uses at least 2, "
        "a background build 1).",
    ),
    Setting(
        "MEDCODE_MAX_NOTE_KB",
        "100",
        "Largest clinical note (kilobytes of UTF-8) Case2Code reads: `medcode suggest`, `POST /api/suggest` "
        "and the /suggest page refuse a bigger one.",
    ),
    Setting(
        "MEDCODE_LLM_URL",
        "(none: off)",
        "OpenAI-compatible chat endpoint (llama.cpp server, Ollama, vLLM), e.g. http://127.0.0.1:8080/v1, that "
        "may re-rank Case2Code's candidates; it can only choose among them. Unset: medcode's own order.",
    ),
    Setting("MEDCODE_LLM_MODEL", "(none)", "Model name sent to MEDCODE_LLM_URL."),
    Setting("MEDCODE_LLM_KEY", "(none)", "API key sent to MEDCODE_LLM_URL as a bearer token."),
    Setting(
        "MEDCODE_DATABASE_URL",
        "(none: SQLite app.db in MEDCODE_HOME)",
        "Application database (accounts, sessions, API keys, usage), e.g. "
        "postgresql://user:password@host:5432/medcode for several servers; `medcode db upgrade` migrates it.",
    ),
    Setting(
        "MEDCODE_QUOTAS",
        "off",
        "`on` counts code and compare pages against each plan's quota and needs an API key (with per-key rate "
        "limits) for the API; `off` (for a self-hosted install) counts nothing and the API needs no key.",
    ),
    Setting("MEDCODE_GUEST_PAGES", "1", "Code or compare pages a visitor without an account sees per quota window."),
    Setting("MEDCODE_MEMBER_PAGES", "5", "Pages a registered member sees per window on top of the guest pages."),
    Setting(
        "MEDCODE_QUOTA_WINDOW",
        "1d",
        "Length of a quota window: seconds (86400) or a number with s, m, h or d (45s, 30m, 12h, 1d).",
    ),
    Setting(
        "MEDCODE_VERIFY_EMAIL",
        "on",
        "`on`: a new account logs in only after following the link mailed to it; `off` lets it log in at once.",
    ),
    Setting(
        "MEDCODE_SMTP_URL",
        "(none: mail is written to the server log)",
        "Outgoing mail server: smtp://user:password@host:port, smtps://... for TLS, ?starttls=1 for STARTTLS.",
    ),
    Setting("MEDCODE_MAIL_FROM", "medcode@localhost", "Sender address of verification and password-reset mail."),
    Setting("MEDCODE_RATE_MEMBER", "60", "API requests a minute per key of a member."),
    Setting("MEDCODE_RATE_PRO", "600", "API requests a minute per key of a pro account."),
    Setting(
        "MEDCODE_PUBLIC_URL",
        "http://MEDCODE_HOST:MEDCODE_PORT",
        "The site's address as users reach it, for the links in mail (e.g. https://medcode.example.org).",
    ),
    Setting(
        "MEDCODE_SECURE_COOKIES",
        "auto",
        "`on` marks session cookies Secure (sent over HTTPS only); `auto` does when MEDCODE_PUBLIC_URL is https.",
    ),
    Setting(
        "MEDCODE_TRUST_PROXY",
        "off",
        "`on` takes the client address from the last X-Forwarded-For hop (behind a reverse proxy); `off` from "
        "the socket.",
    ),
    Setting(
        "MEDCODE_SMTP_PORT",
        "0",
        "Port of medcode's own SMTP receiver for consult questions (`medcode serve` and `medcode mail`); 0: "
        "none for serve (`medcode mail` then uses 2525).",
    ),
    Setting("MEDCODE_IMAP_URL", "(none)", "Mailbox to poll for consult questions: imaps://user:pass@host:port/INBOX."),
    Setting("MEDCODE_IMAP_SECONDS", "60", "Seconds between two polls of MEDCODE_IMAP_URL."),
    Setting("MEDCODE_CONSULT_MAX_MESSAGE_MB", "25", "Largest consult mail accepted (bigger: refused with 552)."),
    Setting(
        "MEDCODE_CONSULT_MAX_ATTACHMENT_MB",
        "10",
        "Largest attachment kept with a consult question (a bigger one is dropped and noted in the ticket).",
    ),
    Setting("MEDCODE_CONSULT_DUE_DAYS", "2", "Business days (Mon-Fri) until a consult question is due."),
    Setting("MEDCODE_CONSULT_DUE_DAYS_PRO", "1", "Business days until a question of a pro account is due."),
    Setting(
        "MEDCODE_CONSULT_KEEP_DAYS",
        "365",
        "Consult tickets unchanged for this many days are purged (at server start and daily).",
    ),
    Setting("MEDCODE_RESUME_MAX_MB", "5", "Largest resume (PDF or DOCX, megabytes) sent with a job application."),
)

EMBED_MODES = ("background", "wait", "off")


@dataclass(frozen=True)
class Settings:
    data: Path | None
    home: Path
    host: str
    port: int
    workers: int
    cache_mb: int = 64
    max_upload_mb: int = 512
    max_body_mb: int = 20
    jobs: int = 1
    job_queue: int = 20
    keep_minutes: float = 60.0
    embed: str = "background"
    max_note_kb: int = 100
    llm_url: str = ""
    llm_model: str = ""
    llm_key: str = ""
    database_url: str = ""
    quotas: bool = False
    guest_pages: int = 1
    member_pages: int = 5
    quota_window: int = 86400  # seconds
    verify_email: bool = True
    smtp_url: str = ""
    mail_from: str = "medcode@localhost"
    rate_member: int = 60
    rate_pro: int = 600
    public_url: str = ""
    secure_cookies: bool = False
    trust_proxy: bool = False
    smtp_port: int = 0
    imap_url: str = ""
    imap_seconds: int = 60
    consult_max_message_mb: int = 25
    consult_max_attachment_mb: int = 10
    consult_due_days: int = 2
    consult_due_days_pro: int = 1
    resume_max_mb: int = 5
    consult_keep_days: int = 365

    @property
    def kb_path(self) -> Path:
        return self.home / "kb"


class SettingError(ValueError):
    """A setting has a value medcode cannot use."""


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SettingError(f"MEDCODE_KEEP_MINUTES must be a number of minutes, not {text!r}") from None
    if not 0 < value < 10**6:
        raise SettingError(f"MEDCODE_KEEP_MINUTES must be more than 0 and less than a million, not {text}")
    return value


def load(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    data = env.get("MEDCODE_DATA") or _default_data()
    home = env.get("MEDCODE_HOME") or str(Path.home() / ".medcode")
    defaults = {s.name: s.default for s in SETTINGS}

    def whole(name: str, least: int) -> int:
        text = env.get(name) or defaults[name]
        try:
            value = int(text)
        except ValueError:
            raise SettingError(f"{name} must be a whole number, not {text!r}") from None
        if value < least:
            raise SettingError(f"{name} must be {least} or more, not {value}")
        return value

    port, workers, cache_mb = whole("MEDCODE_PORT", 0), whole("MEDCODE_WORKERS", 1), whole("MEDCODE_CACHE_MB", 0)
    return Settings(
        data=Path(data).expanduser() if data else None,
        home=Path(home).expanduser(),
        host=env.get("MEDCODE_HOST", "127.0.0.1"),
        port=port,
        workers=workers,
        cache_mb=cache_mb,
        max_upload_mb=whole("MEDCODE_MAX_UPLOAD_MB", 1),
        max_body_mb=whole("MEDCODE_MAX_BODY_MB", 1),
        jobs=whole("MEDCODE_JOBS", 1),
        job_queue=whole("MEDCODE_JOB_QUEUE", 0),
        keep_minutes=_minutes(env.get("MEDCODE_KEEP_MINUTES") or defaults["MEDCODE_KEEP_MINUTES"]),
        embed=_embed_mode(env.get("MEDCODE_EMBED") or defaults["MEDCODE_EMBED"]),
        max_note_kb=whole("MEDCODE_MAX_NOTE_KB", 1),
        llm_url=env.get("MEDCODE_LLM_URL", "").strip(),
        llm_model=env.get("MEDCODE_LLM_MODEL", "").strip(),
        llm_key=env.get("MEDCODE_LLM_KEY", ""),
        **_app_settings(env, whole, host=env.get("MEDCODE_HOST", "127.0.0.1"), port=port),
    )


def _embed_mode(text: str) -> str:
    if text not in EMBED_MODES:
        raise SettingError(f"MEDCODE_EMBED must be one of {', '.join(EMBED_MODES)}, not {text!r}")
    return text


_WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(name: str, text: str) -> int:
    """Seconds in ``86400``, ``45s``, ``30m``, ``12h`` or ``1d``."""
    raw = text.strip().lower()
    unit = _WINDOW_UNITS.get(raw[-1:], 0) if raw else 0
    number = raw[:-1] if unit else raw
    try:
        value = int(number) * (unit or 1)
    except ValueError:
        raise SettingError(f"{name} must be seconds or a number with s, m, h or d (e.g. 1d), not {text!r}") from None
    if value < 1:
        raise SettingError(f"{name} must be at least one second, not {text!r}")
    return value


def switch(name: str, text: str, *, auto: bool | None = None) -> bool:
    """on/off (also true/false, 1/0, yes/no); ``auto`` when allowed gives the ``auto`` value."""
    raw = text.strip().lower()
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    if raw == "auto" and auto is not None:
        return auto
    choices = "on, off or auto" if auto is not None else "on or off"
    raise SettingError(f"{name} must be {choices}, not {text!r}")


def _app_settings(env: Mapping[str, str], whole: Callable[[str, int], int], *, host: str, port: int) -> dict[str, Any]:
    """The settings of accounts, plans and quotas (medcode.app)."""
    defaults = {s.name: s.default for s in SETTINGS}
    public = (env.get("MEDCODE_PUBLIC_URL") or "").strip().rstrip("/")
    if public and not public.startswith(("http://", "https://")):
        raise SettingError(f"MEDCODE_PUBLIC_URL must start with http:// or https://, not {public!r}")
    public = public or f"http://{host}:{port}"
    smtp = (env.get("MEDCODE_SMTP_URL") or "").strip()
    if smtp and not smtp.startswith(("smtp://", "smtps://")):
        raise SettingError("MEDCODE_SMTP_URL must start with smtp:// or smtps://")
    return {
        "database_url": (env.get("MEDCODE_DATABASE_URL") or "").strip(),
        "quotas": switch("MEDCODE_QUOTAS", env.get("MEDCODE_QUOTAS") or "off"),
        "guest_pages": whole("MEDCODE_GUEST_PAGES", 0),
        "member_pages": whole("MEDCODE_MEMBER_PAGES", 0),
        "quota_window": duration("MEDCODE_QUOTA_WINDOW", env.get("MEDCODE_QUOTA_WINDOW") or "1d"),
        "verify_email": switch("MEDCODE_VERIFY_EMAIL", env.get("MEDCODE_VERIFY_EMAIL") or "on"),
        "smtp_url": smtp,
        "mail_from": (env.get("MEDCODE_MAIL_FROM") or defaults["MEDCODE_MAIL_FROM"]).strip(),
        "rate_member": whole("MEDCODE_RATE_MEMBER", 1),
        "rate_pro": whole("MEDCODE_RATE_PRO", 1),
        "public_url": public,
        "secure_cookies": switch(
            "MEDCODE_SECURE_COOKIES", env.get("MEDCODE_SECURE_COOKIES") or "auto", auto=public.startswith("https://")
        ),
        "trust_proxy": switch("MEDCODE_TRUST_PROXY", env.get("MEDCODE_TRUST_PROXY") or "off"),
        **_consult_settings(env, whole),
    }


def _consult_settings(env: Mapping[str, str], whole: Callable[[str, int], int]) -> dict[str, Any]:
    """The settings of the consult queue (medcode.app.consults)."""
    imap = (env.get("MEDCODE_IMAP_URL") or "").strip()
    if imap and not imap.startswith(("imap://", "imaps://")):
        raise SettingError("MEDCODE_IMAP_URL must start with imap:// or imaps://")
    port = whole("MEDCODE_SMTP_PORT", 0)
    if port > 65535:
        raise SettingError(f"MEDCODE_SMTP_PORT must be a port number (0-65535), not {port}")
    return {
        "smtp_port": port,
        "imap_url": imap,
        "imap_seconds": whole("MEDCODE_IMAP_SECONDS", 1),
        "consult_max_message_mb": whole("MEDCODE_CONSULT_MAX_MESSAGE_MB", 1),
        "consult_max_attachment_mb": whole("MEDCODE_CONSULT_MAX_ATTACHMENT_MB", 1),
        "consult_due_days": whole("MEDCODE_CONSULT_DUE_DAYS", 0),
        "consult_due_days_pro": whole("MEDCODE_CONSULT_DUE_DAYS_PRO", 0),
        "consult_keep_days": whole("MEDCODE_CONSULT_KEEP_DAYS", 1),
        "resume_max_mb": whole("MEDCODE_RESUME_MAX_MB", 1),
    }
