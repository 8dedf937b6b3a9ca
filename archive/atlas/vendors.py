"""Atlas vendor names matched to the vendors, products and aliases of the vendor sources in sources.yml.

The Atlas's Vendor column is free text: case and spelling vary ("WatchGuard",
"Watchguard"), one cell may name several companies ("Autel, DJI"), and it is
often blank. Each name a cell holds becomes one match: the sources' vendor
(and product) when a vendor source names it, else the name as the Atlas wrote
it. A blank cell gives no match and stays blank on its row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from archive.records.mentions import terms_of
from archive.sources.model import Source

# Words that end a company's name without naming it: "Axon Enterprise, Inc."
# is one vendor, not two, and "Axon Enterprise Inc" is the same one.
SUFFIXES = {"inc", "llc", "ltd", "corp", "corporation", "co", "company", "lp", "plc", "gmbh"}


@dataclass(frozen=True)
class VendorMatch:
    """One vendor a cell names."""

    text: str  # as the Atlas wrote it
    vendor: str  # the sources' vendor when matched, else `text`
    product: str | None = None  # the sources' product, when the Atlas named a product or alias
    matched_by: str | None = None  # vendor, product or alias; None when no source names it


def name_key(text: str) -> str:
    """How names are compared: case, punctuation, spacing and a closing 'Inc.' or 'LLC' aside."""
    words = re.sub(r"[^\w&+]+", " ", text.replace("’", "'").replace("'", "").casefold()).split()
    while len(words) > 1 and words[-1] in SUFFIXES:
        words.pop()
    return " ".join(words)


class VendorNames:
    """The names vendor sources give, ready to match Atlas cells against."""

    def __init__(self, sources: Iterable[Source]) -> None:
        self.known: dict[str, VendorMatch] = {}
        for term in terms_of(sources):
            if term.vendor:
                self.known.setdefault(
                    name_key(term.text), VendorMatch(term.text, term.vendor, term.product, term.kind)
                )

    def match(self, cell: str) -> list[VendorMatch]:
        """Every vendor a Vendor cell names, in order, each once."""
        cell = " ".join(cell.split())
        if not cell:
            return []
        whole = self._one(cell)
        if whole.matched_by:
            return [whole]
        found: dict[tuple[str, str | None], VendorMatch] = {}
        for name in split_names(cell):
            match = self._one(name)
            found.setdefault((match.vendor, match.product), match)
        return list(found.values())

    def _one(self, name: str) -> VendorMatch:
        known = self.known.get(name_key(name))
        if known is None:
            return VendorMatch(name, name)
        return VendorMatch(name, known.vendor, known.product, known.matched_by)


def split_names(cell: str) -> list[str]:
    """'Autel, DJI' -> ['Autel', 'DJI']; 'Axon Enterprise, Inc.' stays one name."""
    names: list[str] = []
    for piece in re.split(r"[;,]", cell):
        piece = piece.strip()
        if not piece:
            continue
        if names and name_key(piece) in SUFFIXES:
            names[-1] = f"{names[-1]}, {piece}"
        else:
            names.append(piece)
    return names
