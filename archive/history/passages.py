"""Main text as passages and sentences, the sentence-level diff of two texts, and phrase matching.

Extracted text has one block (paragraph, heading, list item) per line. A
diff compares sentences, so a reworded sentence shows as that sentence, not
as its whole paragraph; consecutive changed sentences of one block are one
passage. difflib is enough for pages of hundreds of sentences; a larger
difference (what a stranger or one huge page brings) is aligned in linear time
instead, since difflib's matching is quadratic and holds the GIL.

Phrases are matched by a scan over the text's words, never by a regular
expression built from what a visitor typed.
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
    every: list[bytes] = []
    tidy = True
    for line in (text or "").splitlines():
        norm = " ".join(line.split())
        if norm != line:
            tidy = False
        if "." in norm or "!" in norm or "?" in norm:
            # Sentences of a tidy line are tidy: of sentence_key's normalising
            # only the lower-casing is left to do.
            keys = [sha256(sentence.lower().encode("utf-8")).digest() for sentence in _split_tidy(norm)]
            every.extend(keys)
            lines.append(b"".join(keys))
        elif norm:
            # No sentence end: the line is one sentence (_split_tidy's first test), hashed
            # without the calls above, which cost half of settling a host's history.
            key = sha256(norm.lower().encode("utf-8")).digest()
            every.append(key)
            lines.append(key)
        else:
            lines.append(b"")
    if seen is not None:
        seen.update(every)
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


# Sentence pairs difflib may compare (after the common start and end are set
# aside): past this, differences are aligned in linear time (`_linear_opcodes`).
MAX_COMPARED = 400_000
Opcode = tuple[str, int, int, int, int]


def opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    """difflib-style opcodes turning `a` into `b`, bounded: linear-time past MAX_COMPARED pairs."""
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end = 0
    while end < len(a) - start and end < len(b) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    middle_a, middle_b = a[start : len(a) - end], b[start : len(b) - end]
    if not middle_a and not middle_b:
        middle: list[Opcode] = []
    elif len(middle_a) * len(middle_b) <= MAX_COMPARED:
        middle = SequenceMatcher(None, middle_a, middle_b, autojunk=False).get_opcodes()
    else:
        middle = _linear_opcodes(middle_a, middle_b)
    found: list[Opcode] = [("equal", 0, start, 0, start)] if start else []
    found += [(tag, i1 + start, i2 + start, j1 + start, j2 + start) for tag, i1, i2, j1, j2 in middle]
    if end:
        found.append(("equal", len(a) - end, len(a), len(b) - end, len(b)))
    return found


def _linear_opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    """A valid, not minimal, alignment in one pass: what only one side has is removed or added,
    and a sentence both have but in another order counts as removed here and added there."""
    in_a, in_b = set(a), set(b)
    steps: list[Opcode] = []
    i = j = 0
    while i < len(a) or j < len(b):
        if i == len(a) or (j < len(b) and a[i] != b[j] and a[i] in in_b and b[j] not in in_a):
            step = ("insert", i, i, j, j + 1)
        elif j == len(b) or a[i] != b[j]:
            step = ("delete", i, i + 1, j, j)
        else:
            step = ("equal", i, i + 1, j, j + 1)
        i, j = step[2], step[4]
        last = steps[-1] if steps else None
        if last and last[0] == step[0]:
            steps[-1] = (step[0], last[1], step[2], last[3], step[4])
        else:
            steps.append(step)
    return steps


def diff(old: str | None, new: str | None) -> list[Passage]:
    """Removed and added passages from `old` to `new`, in the order they occur."""
    a, b = sentences(old), sentences(new)
    passages: list[Passage] = []
    for tag, i1, i2, j1, j2 in opcodes([s.text for s in a], [s.text for s in b]):
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


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _ends_with_word(token: str, word: str) -> bool:
    """`word` ends `token`, and no word character runs into it from the left."""
    return token.endswith(word) and (len(token) == len(word) or not _is_word_char(token[-len(word) - 1]))


def _starts_with_word(token: str, word: str) -> bool:
    """`word` starts `token`, and no word character runs on from it to the right."""
    return token.startswith(word) and (len(token) == len(word) or not _is_word_char(token[len(word)]))


def _holds_word(token: str, word: str) -> bool:
    """`word` is inside `token` with no word character running into either end."""
    at = token.find(word)
    while at >= 0:
        before = at == 0 or not _is_word_char(token[at - 1])
        end = at + len(word)
        after = end == len(token) or not _is_word_char(token[end])
        if before and after:
            return True
        at = token.find(word, at + 1)
    return False


def _runs_of(tokens: list[str], words: list[str]) -> list[int]:
    """Where `words` occur as consecutive tokens (Knuth-Morris-Pratt: linear, whatever repeats)."""
    fail = [0] * len(words)
    k = 0
    for n in range(1, len(words)):
        while k and words[n] != words[k]:
            k = fail[k - 1]
        if words[n] == words[k]:
            k += 1
        fail[n] = k
    found, k = [], 0
    for n, token in enumerate(tokens):
        while k and token != words[k]:
            k = fail[k - 1]
        if token == words[k]:
            k += 1
        if k == len(words):
            found.append(n - k + 1)
            k = fail[k - 1]
    return found


def has_phrase(text: str | None, phrase: str, case_sensitive: bool = False) -> bool:
    """Whether `phrase` appears in `text` as whole words, any spacing or line break between them.

    The first word may end a longer token and the last start one, so long as
    no word character runs into them ("(person tracking)" holds "person
    tracking"); the words between are whole tokens. Linear in the text.
    """
    if not text or not phrase:
        return False
    words = (phrase if case_sensitive else phrase.lower()).split()
    if not words:
        return False
    tokens = (text if case_sensitive else text.lower()).split()
    first, last = words[0], words[-1]
    if len(words) == 1:
        return any(_holds_word(token, first) for token in tokens if first in token)
    if len(words) == 2:
        return any(
            _ends_with_word(tokens[n], first) and _starts_with_word(tokens[n + 1], last)
            for n in range(len(tokens) - 1)
        )
    inner = len(words) - 2
    return any(
        0 < n
        and n + inner < len(tokens)
        and _ends_with_word(tokens[n - 1], first)
        and _starts_with_word(tokens[n + inner], last)
        for n in _runs_of(tokens, words[1:-1])
    )
