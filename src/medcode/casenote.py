"""The clinical note a person gives Case2Code, read and checked one way for the command line, the
API and the web page; the one call that suggests its codes; and the warm-up of the language layer.

A note is UTF-8 text of at most ``MEDCODE_MAX_NOTE_KB`` kilobytes with something in it besides
spaces and no control characters other than tabs, line and page breaks (a binary file has them).
Errors name where the note came from (the file, ``standard input``, ``text``) and the position.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import re
import sys
import threading
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medcode.language import llm
from medcode.settings import Settings

if TYPE_CHECKING:  # (importing medcode.suggest loads the pipeline: only when a note comes)
    from medcode.suggest import Suggestion

log = logging.getLogger(__name__)

SETTINGS = ("office", "facility")  # the place of service a note's procedures are priced in
_NOT_TEXT = re.compile("[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff]")  # tab, line and page breaks are text
WARM_NOTE = "Assessment: essential hypertension. Plan: follow-up visit in three months."
# Held while ``warm`` loads the layer: a note that comes meanwhile waits for it instead of loading the same
# tables a second time beside it (reentrant: the warm-up's own note passes).
_LOADING = threading.RLock()


class NoteError(ValueError):
    """A note that cannot be read; ``where`` names its source, the message says what and where."""

    def __init__(self, where: str, message: str, too_large: bool = False):
        self.where = where
        self.too_large = too_large
        super().__init__(f"{where} {message}")


def max_bytes(max_note_kb: int) -> int:
    return max_note_kb * 1024


def _position(text: str, i: int) -> str:
    line = text.count("\n", 0, i) + 1
    return f"line {line}, column {i - (text.rfind(chr(10), 0, i) + 1) + 1}"


def check(text: str, where: str, limit: int) -> str:
    """``text`` when it is a note medcode can read, else ``NoteError``."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise NoteError(where, f"is {size:,} bytes: over the limit of {limit:,} (MEDCODE_MAX_NOTE_KB)", True)
    bad = _NOT_TEXT.search(text)
    if bad is not None:
        ch, i = bad.group(), bad.start()
        if "\ud800" <= ch <= "\udfff":
            raise NoteError(where, f"has a lone surrogate U+{ord(ch):04X} at {_position(text, i)}: not Unicode text")
        what = "NUL" if ch == "\x00" else f"the control character U+{ord(ch):04X}"
        raise NoteError(where, f"has {what} at {_position(text, i)}: it is not a text note")
    if not text.strip():
        raise NoteError(where, "is empty: there is no note to read")
    return text


def from_bytes(data: bytes, where: str, limit: int) -> str:
    """A note sent as bytes (a file, standard input, a request body field)."""
    if len(data) > limit:
        raise NoteError(where, f"is over the limit of {limit:,} bytes (MEDCODE_MAX_NOTE_KB)", True)
    zero = data.find(b"\x00")
    if zero >= 0:
        line = data.count(b"\n", 0, zero) + 1
        raise NoteError(where, f"has a NUL byte at byte {zero} (line {line}): it is not a text note")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise NoteError(where, f"is not UTF-8: byte {exc.start} (line {line}) is 0x{data[exc.start]:02X}") from None
    return check(text, where, limit)


def read_file(path: str, limit: int) -> str:
    """The note in the file ``path`` (``-``: standard input)."""
    if path == "-":
        return from_bytes(sys.stdin.buffer.read(limit + 1), "standard input", limit)
    where = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise NoteError(where, "is a folder, not a note file")
        with p.open("rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise NoteError(where, "does not exist") from None
    except PermissionError:
        raise NoteError(where, "cannot be read (permission denied)") from None
    except OSError as exc:
        raise NoteError(where, f"cannot be read ({exc.strerror or exc})") from None
    return from_bytes(data, where, limit)


def llm_config(conf: Settings) -> llm.Config | None:
    """The language-model re-rank of the settings (``MEDCODE_LLM_*``), None when it is off."""
    return llm.config(conf.llm_url, conf.llm_model, conf.llm_key)


def run(
    kb: Any,
    text: str,
    *,
    day: date | None = None,
    setting: str | None = None,
    include_all: bool = False,
    llm_conf: llm.Config | None = None,
) -> Suggestion:
    """``medcode.suggest.suggest`` on a checked note, with the language model when one is set."""
    from medcode.suggest import suggest

    if setting is not None and setting not in SETTINGS:
        raise ValueError(f"setting must be {' or '.join(SETTINGS)}, not {setting[:40]!r}")
    with _LOADING:  # waits only while a warm-up runs
        pass
    if llm_conf is not None and "llm" in inspect.signature(suggest).parameters:  # the pipeline re-ranks itself
        kwargs: dict[str, Any] = {"llm": llm_conf}
        return suggest(kb, text, day=day, setting=setting, include_all=include_all, **kwargs)
    found = suggest(kb, text, day=day, setting=setting, include_all=include_all)
    if llm_conf is None or len(found.diagnoses) < 2:
        return found
    # a pipeline without the hook: the model may reorder the recommended diagnoses, nothing more
    notices = list(found.notices)
    order = llm.rerank(found.diagnoses, text, llm_conf, notices)
    by_code = {d.code: d for d in found.diagnoses}
    return dataclasses.replace(found, diagnoses=tuple(by_code[c] for c in order), notices=tuple(notices))


def warm(kb: Any, home: Path, embed: str = "background") -> None:
    """Load the language layer now (concept index, learned models) rather than on the first note, and
    start building the embedding cache when it is missing (``MEDCODE_EMBED``: background, wait, off)."""
    from medcode.language.index import concept_index

    with _LOADING:
        index = concept_index(kb, home)
        vectors = index.vectors() if embed != "off" else None  # shared by every lookup of this index
        if vectors is not None and not vectors.ready():
            if embed == "wait":
                vectors.build()
            else:
                vectors.start_background()
        run(kb, WARM_NOTE)
    log.info("language layer loaded")


def start_warming(kb: Any, home: Path, embed: str = "background") -> threading.Thread:
    """``warm`` in a daemon thread: a server answers (``/healthz`` too) while it loads."""

    def body() -> None:
        try:
            warm(kb, home, embed)
        except Exception:  # a failed warm-up is retried by the first note; it must not stop the server
            log.exception("warming the language layer failed")

    thread = threading.Thread(target=body, name="medcode-warm", daemon=True)
    thread.start()
    return thread
