"""Main text as passages and sentences, the sentence-level diff of two texts, and phrase matching.

Extracted text has one block (paragraph, heading, list item) per line. A
diff compares sentences, so a reworded sentence shows as that sentence, not
as its whole paragraph; consecutive changed sentences of one block are one
passage. difflib is enough: pages have hundreds of sentences, not millions.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import NamedTuple

# A sentence ends at . ! or ? (maybe closed by a quote or bracket) before
# whitespace and a capital, digit or opening quote; abbreviations do not end one.
_SENTENCE_END = re.compile(r"(?<=[.!?])([\"'”’)\]]?)\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof inc ltd co corp st no vs e.g i.e etc jan feb mar apr jun jul aug sep "
    "sept oct nov dec u.s fig approx".split()
)


class Sentence(NamedTuple):
    """One sentence and the block (line) of the text it is in.

    A NamedTuple, not a frozen dataclass: settling a crawl's history makes one
    per sentence of every page, and a frozen dataclass is several times slower to build.
    """

    block: int
    text: str


@dataclass(frozen=True)
class Passage:
    """Consecutive added or removed sentences of one block."""

    side: str  # "added" or "removed"
    text: str
    sentences: tuple[str, ...]

    @property
    def words(self) -> int:
        return len(self.text.split())


def split_sentences(line: str) -> list[str]:
    """The sentences of one block of text."""
    return _split_tidy(" ".join(line.split()))


def _split_tidy(line: str) -> list[str]:
    """split_sentences of a line that already has one space between words and none at its ends.

    Joined with single spaces, the sentences give the line back.
    """
    if not line:
        return []
    if "." not in line and "!" not in line and "?" not in line:
        # No sentence end possible (a heading, a list item, a table cell): the
        # regex scan below cost half of settling a crawl's history.
        return [line]
    out: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(line):
        end = match.start() + len(match.group(1))
        head = line[start:end]
        last_word = head.rsplit(" ", 1)[-1].rstrip(".!?\"'”’)]").lower()
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue  # "Nov. 21", "J. Smith": not a sentence end
        out.append(head.strip())
        start = match.end()
    out.append(line[start:].strip())
    return [s for s in out if s]


def sentences(text: str | None) -> list[Sentence]:
    """Every sentence of a text, block by block (form feeds between PDF pages are blocks too)."""
    found: list[Sentence] = []
    for block, line in enumerate((text or "").splitlines()):
        found.extend(Sentence(block, s) for s in split_sentences(line))
    return found


def sentence_key(sentence: str) -> str:
    """SHA-256 of a sentence as compared: case and spacing ignored."""
    return hashlib.sha256(" ".join(sentence.lower().split()).encode("utf-8")).hexdigest()


# A sentence key as its 32 bytes (the digest sentence_key writes in hex).
KEY_BYTES = 32


class TextKeys(NamedTuple):
    """Which sentences a text has, compactly: for each line, its sentences' keys end to end.

    Finding a host's boilerplate computes this for every sampled page; re-keying
    the pages (`without_keys`) then needs neither to split nor to hash them again.
    32 bytes a sentence, where keeping the sentences would cost three times the text.
    """

    lines: list[bytes]
    tidy: bool  # every line already had single spaces and no spaces at its ends (an HTML page's text)


def text_keys(text: str | None, seen: set[bytes] | None = None) -> TextKeys:
    """The TextKeys of a text; `seen`, if given, gets every key."""
    sha256 = hashlib.sha256
    lines: list[bytes] = []
    tidy = True
    for line in (text or "").splitlines():
        norm = " ".join(line.split())
        tidy = tidy and norm == line
        # Sentences of a tidy line are tidy: of sentence_key's normalising
        # only the lower-casing is left to do.
        keys = [sha256(sentence.lower().encode("utf-8")).digest() for sentence in _split_tidy(norm)]
        if seen is not None:
            seen.update(keys)
        lines.append(b"".join(keys))
    return TextKeys(lines, tidy)


def line_keys(keys: bytes) -> list[bytes]:
    """One line's sentence keys, from TextKeys.lines."""
    return [keys[i : i + KEY_BYTES] for i in range(0, len(keys), KEY_BYTES)]


def without_keys(text: str | None, boilerplate: set[bytes], keys: TextKeys) -> str:
    """`without(text, ...)` given boilerplate keys as digests and `keys = text_keys(text)`.

    A line none of whose sentences is boilerplate is kept whole, spacing
    normalised, which is what joining its sentences gives; only lines that
    hold boilerplate are split into sentences again.
    """
    if not boilerplate:
        return text or ""
    kept: list[str] = []
    for line, found in zip((text or "").splitlines(), keys.lines):
        if not found:
            continue
        if len(found) == KEY_BYTES:  # one sentence: most lines
            if found in boilerplate:
                continue
        elif not boilerplate.isdisjoint(line_keys(found)):
            rest = [
                sentence
                for sentence, key in zip(split_sentences(line), line_keys(found))
                if key not in boilerplate
            ]
            if rest:
                kept.append(" ".join(rest))
            continue
        kept.append(line if keys.tidy else " ".join(line.split()))
    return "\n".join(kept)


def diff(old: str | None, new: str | None) -> list[Passage]:
    """Removed and added passages from `old` to `new`, in the order they occur."""
    a, b = sentences(old), sentences(new)
    matcher = SequenceMatcher(None, [s.text for s in a], [s.text for s in b], autojunk=False)
    passages: list[Passage] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            passages.extend(_group("removed", a[i1:i2]))
        if tag in ("insert", "replace"):
            passages.extend(_group("added", b[j1:j2]))
    return passages


def _group(side: str, run: list[Sentence]) -> list[Passage]:
    groups: list[list[Sentence]] = []
    for sentence in run:
        if groups and groups[-1][-1].block == sentence.block:
            groups[-1].append(sentence)
        else:
            groups.append([sentence])
    return [Passage(side, " ".join(s.text for s in g), tuple(s.text for s in g)) for g in groups]


def without(text: str | None, boilerplate: set[str]) -> str:
    """The text less its boilerplate sentences (by sentence_key), one block a line."""
    if not boilerplate:
        return text or ""
    lines: dict[int, list[str]] = {}
    for sentence in sentences(text):
        if sentence_key(sentence.text) not in boilerplate:
            lines.setdefault(sentence.block, []).append(sentence.text)
    return "\n".join(" ".join(parts) for _, parts in sorted(lines.items()))


def phrase_pattern(phrase: str, case_sensitive: bool = False) -> re.Pattern[str]:
    """Whole words, any spacing or line break between them."""
    words = phrase.split()
    body = r"\s+".join(re.escape(word) for word in words)
    return re.compile(r"(?<!\w)" + body + r"(?!\w)", 0 if case_sensitive else re.IGNORECASE)


def has_phrase(text: str | None, phrase: str, case_sensitive: bool = False) -> bool:
    """Whether `phrase` appears in `text` as whole words."""
    if not text or not phrase or not phrase.split():
        return False
    return phrase_pattern(phrase, case_sensitive).search(text) is not None
