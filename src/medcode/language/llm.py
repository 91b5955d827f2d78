"""Optional re-ranking of Case2Code's candidates by a language model.

Any OpenAI-compatible chat endpoint (llama.cpp server, Ollama, vLLM) set by ``MEDCODE_LLM_URL``
(``MEDCODE_LLM_MODEL``, ``MEDCODE_LLM_KEY``). The request carries a JSON schema (``response_format``
``json_schema``) whose code items are an enum of the candidates' codes, so a server that honours it
can only answer with real candidates; an answer is checked again here all the same. Any failure (no
answer, a timeout, an HTTP error, an answer that is not the schema or names another code) keeps
medcode's own order and says so in a notice. medcode works fully without it.

The note text goes to the configured endpoint only; it is never logged.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30.0  # one request; a local model on two cores answers a short list in a few seconds
MAX_NOTE_CHARS = 6_000  # of the note sent in the prompt (small models have small contexts)
MAX_CANDIDATES = 40  # codes offered to the model; the rest keep medcode's order after them
MAX_ANSWER_BYTES = 1 << 20
SYSTEM_PROMPT = (
    "You are a certified medical coder. Read the clinical note and order the candidate codes by how well "
    "the note supports them, best first. Answer with JSON only, choosing codes from the candidate list."
)


@dataclass(frozen=True)
class Config:
    """Where the model is: ``url`` is the server's base (``http://host:8080``), its ``/v1`` or the
    full ``/v1/chat/completions`` address."""

    url: str
    model: str = ""
    key: str = ""
    timeout: float = TIMEOUT_SECONDS

    @property
    def endpoint(self) -> str:
        base = self.url.strip().rstrip("/")
        if base.endswith("/chat/completions"):
            return base
        if base.endswith("/v1"):
            return base + "/chat/completions"
        return base + "/v1/chat/completions"


def config(url: str, model: str = "", key: str = "") -> Config | None:
    """The configuration of ``MEDCODE_LLM_URL/MODEL/KEY`` (see ``settings``), None when no URL is set."""
    if not url.strip():
        return None
    if not url.strip().lower().startswith(("http://", "https://")):
        raise ValueError(f"MEDCODE_LLM_URL must start with http:// or https://, not {url[:80]!r}")
    return Config(url.strip(), model.strip(), key)


class Candidate(Protocol):
    """What re-ranking reads of a candidate (``suggest.Suggested`` has both)."""

    @property
    def code(self) -> str: ...

    @property
    def description(self) -> str: ...


class RerankError(RuntimeError):
    """The model gave no usable answer (the message says why; it never holds the note)."""


def schema(codes: Sequence[str]) -> dict[str, Any]:
    """The answer's JSON schema: ``{"codes": [...]}``, each item one of ``codes``."""
    return {
        "type": "object",
        "properties": {
            "codes": {
                "type": "array",
                "items": {"type": "string", "enum": list(codes)},
                "minItems": 1,
                "maxItems": len(codes),
            }
        },
        "required": ["codes"],
        "additionalProperties": False,
    }


def request_body(candidates: Sequence[Candidate], note_text: str, conf: Config) -> dict[str, Any]:
    codes = [c.code for c in candidates]
    listing = "\n".join(f"{c.code}: {c.description}" for c in candidates)
    note = note_text[:MAX_NOTE_CHARS]
    return {
        "model": conf.model or "medcode",
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Clinical note:\n{note}\n\nCandidate codes:\n{listing}"},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "ranked_codes", "strict": True, "schema": schema(codes)},
        },
        "temperature": 0,
        "max_tokens": 16 + 12 * len(codes),
        "stream": False,
    }


def post(body: dict[str, Any], conf: Config, error: type[Exception] = RuntimeError) -> bytes:
    """The raw reply of the chat endpoint to ``body``; any failure (HTTP error, timeout, no server, a
    reply over MAX_ANSWER_BYTES) raises ``error`` with the reason in words."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if conf.key:
        headers["Authorization"] = f"Bearer {conf.key}"
    req = urllib.request.Request(conf.endpoint, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=conf.timeout) as response:
            raw: bytes = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise error(f"HTTP {exc.code} from {conf.endpoint}") from None
    except TimeoutError:
        raise error(f"no answer from {conf.endpoint} within {conf.timeout:g} s") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise error(f"cannot reach {conf.endpoint} ({reason})") from None
    if len(raw) > MAX_ANSWER_BYTES:
        raise error(f"the answer of {conf.endpoint} is over {MAX_ANSWER_BYTES:,} bytes")
    return raw


def ask(candidates: Sequence[Candidate], note_text: str, conf: Config) -> list[str]:
    """The codes the model chose, best first, each once; raises ``RerankError`` on any failure."""
    raw = post(request_body(candidates, note_text, conf), conf, RerankError)
    return parse_answer(raw, [c.code for c in candidates])


def parse_answer(raw: bytes, codes: Sequence[str]) -> list[str]:
    """The chosen codes of a chat-completion answer; every one must be among ``codes``."""
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
        chosen = json.loads(content)["codes"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise RerankError('the answer is not a chat completion holding {"codes": [...]}') from None
    if not isinstance(chosen, list) or not chosen or not all(isinstance(c, str) for c in chosen):
        raise RerankError("the answer's codes are not a non-empty list of strings")
    allowed = set(codes)
    unknown = [c for c in chosen if c not in allowed]
    if unknown:
        raise RerankError(f"the answer names {len(unknown)} code(s) that are not candidates, e.g. {unknown[0][:20]!r}")
    return list(dict.fromkeys(chosen))


def rerank(
    candidates: Sequence[Candidate], note_text: str, conf: Config | None, notices: list[str] | None = None
) -> list[str]:
    """Every candidate's code, in the model's order: the codes it chose first (best first), then the
    others in medcode's order. With no model configured, or on any failure, medcode's own order; a
    failure appends a notice to ``notices``."""
    own = list(dict.fromkeys(c.code for c in candidates))
    if conf is None or len(own) < 2:
        return own
    offered = list({c.code: c for c in candidates}.values())[:MAX_CANDIDATES]
    try:
        chosen = ask(offered, note_text, conf)
    except RerankError as exc:
        log.warning("language model re-rank not used: %s", exc)
        if notices is not None:
            notices.append(f"The language model was not used ({exc}); medcode's own order is kept.")
        return own
    picked = set(chosen)
    return chosen + [c for c in own if c not in picked]
