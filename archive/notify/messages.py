"""What an alert says: the sentence that changed, the window, both captures' citations, and links.

Alerts that only say "page changed" are the first complaint about monitoring
tools; each message here quotes what was added or removed and cites the two
captures either side of it, so a reporter can act on it without opening the archive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archive.history.passages import has_phrase, sentences
from archive.publish.paths import Paths
from archive.times import parse_when

QUOTE_CHARS = 600  # a quoted passage longer than this is cut: the diff link has the rest


@dataclass(frozen=True)
class Event:
    """Something worth a message, with a key that names it however often it is found again."""

    key: str
    kind: str  # phrase, change, document, run, overdue, altered, test
    source: str | None
    subject: str
    message: str
    at: str  # when it happened (ISO 8601 UTC)


def links(public_url: str) -> Paths | None:
    """The reader's pages under the archive's public address, or None when it has none."""
    if not public_url:
        return None
    base = public_url.rstrip("/")
    return Paths(lambda path: base + path)


def when(value: str | None) -> str:
    """An ISO time as a reader reads it."""
    return parse_when(value).strftime("%Y-%m-%d %H:%M UTC") if value else "unknown"


def quote(text: str) -> str:
    text = " ".join(text.split())
    return f"“{text[:QUOTE_CHARS]}…”" if len(text) > QUOTE_CHARS else f"“{text}”"


def sentences_with(passages: list[str], phrase: str, exact: bool) -> list[str]:
    """The sentences of `passages` that hold `phrase` (whole passages when it spans sentences)."""
    found = [s.text for p in passages for s in sentences(p) if has_phrase(s.text, phrase, exact)]
    return found or [p for p in passages if has_phrase(p, phrase, exact)]


def change_footer(change: dict[str, Any], paths: Paths | None) -> list[str]:
    """The window, both captures' citations and the links: the proof of a change."""
    lines = [
        f"It changed between {when(change['before_at'])} (last capture before) and "
        f"{when(change['changed_at'])} (first capture after).",
        "",
        f"Before: {change['from_citation']}",
        f"After: {change['to_citation']}",
    ]
    if paths is not None:
        lines += [
            "",
            f"Diff: {paths.diff(change['id'])}",
            f"Capture: {paths.replay(change['to_capture_id'])}",
        ]
    return lines


def phrase_message(
    change: dict[str, Any],
    phrase: str,
    term_kind: str,
    event: str,
    passages: dict[str, list[str]],
    paths: Paths | None,
) -> tuple[str, str]:
    """Subject and body of a watched phrase (or product name) that appeared or disappeared."""
    what = "watched phrase" if term_kind == "watch" else "product name"
    page = change["title"] or change["page_url"]
    side = "removed" if event == "disappeared" else "added"
    quoted = sentences_with(passages.get(side, []), phrase, term_kind != "watch")
    body = [
        f"The {what} “{phrase}” {event} from {change['page_url']} (source {change['source']}).",
        "",
        *(f"{side.capitalize()}: {quote(text)}" for text in quoted),
        "",
        *change_footer(change, paths),
    ]
    return f"“{phrase}” {event} from {page}", "\n".join(body)


def change_message(
    change: dict[str, Any],
    phrases: list[tuple[str, str]],
    passages: dict[str, list[str]],
    paths: Paths | None,
) -> tuple[str, str]:
    """Subject and body of any change on a page whose source says `alert: any`."""
    page = change["title"] or change["page_url"]
    body = [f"{change['page_url']} changed (source {change['source']}).", ""]
    body += [f"The watched phrase “{phrase}” {event}." for phrase, event in phrases]
    body += [f"Removed: {quote(text)}" for text in passages.get("removed", [])]
    body += [f"Added: {quote(text)}" for text in passages.get("added", [])]
    body += ["", *change_footer(change, paths)]
    return f"{page} changed", "\n".join(body)


def document_message(doc: dict[str, Any], terms: list[str], paths: Paths | None) -> tuple[str, str]:
    """Subject and body of a new document, on a records source, that names vendor terms."""
    agency = doc["agency"] or "an agency"
    title = doc["title"] or doc["file_name"] or doc["file_url"]
    body = [
        f"{agency} released “{title}” (source {doc['source']}).",
        "",
        f"Document: {doc['file_name'] or doc['file_url']}",
        f"It names: {', '.join(terms)}",
        f"Release page: {doc['page_url']}",
        f"First seen: {when(doc['first_seen_at'])}",
    ]
    if paths is not None:
        body.append(f"In the archive: {paths.document(doc['id'])}")
    return f"{agency} released “{title}”, naming {', '.join(terms)}", "\n".join(body)


def digest(events: list[dict[str, Any]]) -> tuple[str, str]:
    """One message listing several alerts (rows of `alerts`): a target that asked for a digest."""
    subject = f"Spyglass: {len(events)} alert(s)"
    parts = []
    for n, row in enumerate(events, 1):
        parts += [f"{n}. {row['subject']}", "", row["message"], "", "-" * 40, ""]
    return subject, "\n".join(parts).rstrip("-\n ")
