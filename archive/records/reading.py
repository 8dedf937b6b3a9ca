"""The documents pass and command: each document's text (OCR where needed), then mentions.

Kept apart from the crawl (archive/crawl/after.py runs it as a pass) so that
`spyglass documents` starts without importing Scrapy and Twisted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from archive.archive import Archive
from archive.config import Config
from archive.errors import ConfigError
from archive.index.db import open_existing
from archive.progress import Progress
from archive.records.extraction import ExtractionReport
from archive.sources.load import load_sources
from archive.sources.model import Source

TERM_FIELD = re.compile(r"field '(vendor|product)\b")


@dataclass
class DocumentsRead:
    """The documents pass: document text read (OCR where needed), then mentions of vendor terms."""

    report: ExtractionReport
    mentions: int
    seconds: float

    def line(self) -> str:
        return (
            f"Documents: {self.report.line()}; {self.mentions} mention(s) of vendor terms "
            f"({self.seconds:.1f} s)."
        )


def read_documents(
    config: Config,
    variables: Mapping[str, str],
    redo: bool,
    notes: list[str],
    progress: Progress | None = None,
) -> DocumentsRead:
    """Document text (OCR where needed), then mentions of vendor terms; each note goes on `notes`.

    `redo` reads every document again, not only new ones.
    """
    from archive.records.extraction import extract_documents
    from archive.records.mentions import rebuild_mentions

    sources = load_sources(config.sources_file, variables)
    for note in _term_notes(sources):
        notes.append(note)  # one by one: the notes before a source that stops the pass are kept
    index = open_existing(Archive.from_config(config))
    try:
        started = time.monotonic()
        report = extract_documents(Archive.from_config(config), index, redo=redo, progress=progress)
        mentions = rebuild_mentions(index, sources)
    finally:
        index.close()
    return DocumentsRead(report, mentions, time.monotonic() - started)


def _term_notes(sources: list[Source]) -> Iterator[str]:
    """A note for each vendor source with an unset ${VAR} in its URLs; ConfigError if in its terms."""
    for source in sources:
        if source.unresolved and source.kind == "vendor":
            if not (source.vendor or source.product):
                # Its terms are unknown: a rebuild would silently drop its mentions.
                raise ConfigError(
                    next((u for u in source.unresolved if TERM_FIELD.search(u)), source.unresolved[0])
                )
            yield f"{source.unresolved[0]}; its product terms are used all the same"
