"""The affirmed words of a note: what the learned model may read as the patient's own current conditions.

The learned model (``suggest.learned``) reads bags of words and ignores context: "negative for fever"
speaks for fever as much as "fever" does, and an allergies line "PCN (rash)" for a rash. ``affirmed``
returns the note with every word blanked (replaced by spaces, so offsets stay) that lies in a negated,
hypothetical or family-member mention (``language.context``) or in a section that names no condition
of this encounter (``SECTIONS``). A code the model finds only from such words does not score on the
affirmed text.
"""

from __future__ import annotations

from medcode.language.context import assess
from medcode.language.note import Note
from medcode.language.text import tokens

# sections whose words name no condition of the patient's encounter (an allergy's reaction, a relative's disease)
SECTIONS = frozenset({"allergies", "family_history"})
FLAGS = ("negated", "hypothetical", "family")


def affirmed(note: Note) -> str:
    """``note.text`` with the words of negated, hypothetical and family mentions (and of ``SECTIONS``) blanked."""
    chars = list(note.text)
    for sentence in note.sentences:
        if sentence.section in SECTIONS:
            blank = [(sentence.start, sentence.end)]
        else:
            blank = []
            for tok in tokens(sentence.text, sentence.start):
                c = assess(note, tok.start, tok.end)
                if any(getattr(c, f) for f in FLAGS):
                    blank.append((tok.start, tok.end))
        for start, end in blank:
            chars[start:end] = " " * (end - start)
    for section in note.sections:  # header-only sections with no sentence of their own
        if section.name in SECTIONS:
            chars[section.start : section.end] = " " * (section.end - section.start)
    return "".join(o if o == "\n" else c for o, c in zip(note.text, chars, strict=True))  # lines stay lines
