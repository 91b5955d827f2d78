"""A clinical note read once: its text, sections and sentences (``read``)."""

from __future__ import annotations

from dataclasses import dataclass

from medcode.language.text import Section, Sentence, sections_and_sentences


@dataclass(frozen=True)
class Note:
    text: str
    sections: tuple[Section, ...]
    sentences: tuple[Sentence, ...]


def read(text: str) -> Note:
    """The note's sections and sentences (offsets into ``text``)."""
    found, split = sections_and_sentences(text)
    return Note(text, tuple(found), tuple(split))
