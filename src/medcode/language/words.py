"""Words of clinical and descriptor text: tokens, stop words, Porter stems (shared by the language layer and search)."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

from medcode import vocab

WORD = re.compile(r"[a-z0-9]+")
# A descriptor token: letters/digits joined by / & - + (``prep&insj``, ``w/o``, ``c-/c+``).
TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9/&+\-']|\.(?=[0-9]))*|[&+<>=%]")
STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "or",
        "as",
        "is",
        "it",
        "its",
        "be",
        "this",
        "that",
        "from",
        "into",
        "than",
        "then",
        "any",
        "all",
        "per",
    }
)
# Action nouns that read better followed by "of" ("insertion of intramedullary ...").
ACTIONS = frozenset(
    {
        "insertion",
        "removal",
        "repair",
        "excision",
        "biopsy",
        "destruction",
        "revision",
        "replacement",
        "repositioning",
        "reconstruction",
        "ablation",
        "aspiration",
        "drainage",
        "injection",
        "incision",
        "exploration",
        "fixation",
        "resection",
        "implantation",
        "placement",
        "application",
        "evaluation",
        "preparation",
        "manipulation",
        "ligation",
        "decompression",
        "debridement",
        "interrogation",
        "programming",
        "reprogramming",
        "closure",
        "dilation",
        "administration",
        "transplantation",
        "harvest",
    }
)
LINKS = frozenset(
    {
        "of",
        "with",
        "without",
        "by",
        "for",
        "and",
        "or",
        "to",
        "in",
        "on",
        "each",
        "per",
        "within",
        "w/o",
        "w/",
        "&",
    }
)

_porter = snowballstemmer.stemmer("porter")
_porter_lock = threading.Lock()  # the stemmer keeps the word it works on in itself: one thread at a time


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    with _porter_lock:
        return _porter.stemWord(word)


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words of ``text``."""
    return WORD.findall(text.lower())


def stems(text: str) -> set[str]:
    return {stem(w) for w in words(text)}


def _expand_token(token: str) -> tuple[str, bool]:
    """One descriptor token in plain words, and whether any of it was an abbreviation."""
    abbr = vocab.abbreviations()
    low = token.lower()
    if low in abbr:
        return abbr[low], True
    if low.startswith("w/") and len(low) > 2:  # w/dye, w/scope, w/3d
        rest, _ = _expand_token(token[2:])
        return f"with {rest}", True
    for sep, joiner in (("&", " and "), ("/", " or "), ("+", " plus "), ("-", "-")):
        if sep in low:
            parts = token.split(sep)
            if len(parts) > 1 and all(parts):
                out = [_expand_token(p) for p in parts]
                if any(changed for _, changed in out):
                    return joiner.join(text for text, _ in out), True
    return token, False


@lru_cache(maxsize=65536)
def plain_description(short: str) -> str:
    """A CMS short descriptor with its abbreviations written out, e.g.
    ``Mnl prep&insj imed rx dev`` -> ``Manual preparation and insertion of intramedullary drug device``."""
    tokens = TOKEN.findall(short.replace("&/", "/"))
    abbr = vocab.abbreviations()
    out: list[str] = []
    skip = False
    for i, token in enumerate(tokens):
        if skip:
            skip = False
            continue
        pair = f"{token} {tokens[i + 1]}".lower() if i + 1 < len(tokens) else ""
        if pair in abbr:
            text, changed, skip = abbr[pair], True, True
            i += 1
        else:
            text, changed = _expand_token(token)
        out.append(text if changed or token.isupper() or i else token)
        last = text.rsplit(" ", 1)[-1].lower()
        nxt = tokens[i + 1].lower() if i + 1 < len(tokens) else None
        if changed and last in ACTIONS and nxt is not None and nxt not in LINKS and not nxt[0].isdigit():
            out.append("of")
    if not out:
        return short
    sentence = " ".join(out)
    return sentence[0].upper() + sentence[1:]
