"""Pictures of time, drawn by the server: a page's timeline as SVG, and a diff of two versions.

Everything returned is markupsafe Markup with every archived value escaped:
archived text is hostile input. No scripts, fonts or external resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from archive.history.changes import is_boilerplate
from archive.history.passages import opcodes, sentences
from archive.times import parse_when

WIDTH, HEIGHT, LEFT, RIGHT = 960, 150, 20, 20
BAR_Y, BAR_H = 46, 34
COLOURS = ("#4a7bb7", "#8fb4e3")


def _x(when: datetime, start: datetime, end: datetime) -> float:
    span = max((end - start).total_seconds(), 1.0)
    return LEFT + (WIDTH - LEFT - RIGHT) * (when - start).total_seconds() / span


def timeline_svg(
    versions: list[dict[str, Any]],
    changes: list[dict[str, Any]],
    sightings: list[dict[str, Any]],
    capture_href: Any,
    diff_href: Any,
) -> Markup:
    """Versions as bars on a time axis, sightings as ticks, changes as markers linking to their diff."""
    times = [parse_when(v["first_seen_at"]) for v in versions] + [
        parse_when(v["last_seen_at"]) for v in versions
    ]
    start, end = min(times), max(times)
    pad = max((end - start) * 0.02, (end - start).__class__(days=1))
    start, end = start - pad, end + pad
    parts = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" class="spyglass-timeline" role="img" '
            'viewBox="0 0 {w} {h}" width="100%" aria-label="Versions over time">'
        ).format(w=WIDTH, h=HEIGHT)
    ]
    parts.append(
        Markup('<line x1="{a}" x2="{b}" y1="{y}" y2="{y}" stroke="#556" />').format(
            a=LEFT, b=WIDTH - RIGHT, y=BAR_Y + BAR_H + 14
        )
    )
    for year in range(start.year + 1, end.year + 1):
        x = _x(datetime(year, 1, 1, tzinfo=start.tzinfo), start, end)
        parts.append(
            Markup(
                '<line x1="{x:.1f}" x2="{x:.1f}" y1="{y1}" y2="{y2}" stroke="#889" />'
                '<text x="{x:.1f}" y="{ty}" font-size="11" text-anchor="middle" '
                'fill="#334">{year}</text>'
            ).format(x=x, y1=BAR_Y + BAR_H + 10, y2=BAR_Y + BAR_H + 18, ty=BAR_Y + BAR_H + 32, year=year)
        )
    for n, version in enumerate(versions):
        x1 = _x(parse_when(version["first_seen_at"]), start, end)
        following = versions[n + 1]["first_seen_at"] if n + 1 < len(versions) else version["last_seen_at"]
        x2 = max(_x(parse_when(following), start, end), x1 + 6)
        label = (
            f"Version {version['number']}: first seen {version['first_seen_at'][:10]}, last seen "
            f"{version['last_seen_at'][:10]}, {version['sightings']} capture(s). Open capture "
            f"{version['first_capture_id']}."
        )
        parts.append(
            Markup(
                '<a href="{href}" class="version"><rect x="{x:.1f}" y="{y}" width="{w:.1f}" '
                'height="{h}" fill="{fill}" stroke="#fff"><title>{label}</title></rect>'
                '<text x="{tx:.1f}" y="{ty}" font-size="11" fill="#fff">{num}</text></a>'
            ).format(
                href=capture_href(version["first_capture_id"]),
                x=x1,
                y=BAR_Y,
                w=x2 - x1,
                h=BAR_H,
                fill=COLOURS[n % 2],
                label=label,
                tx=x1 + 3,
                ty=BAR_Y + 21,
                num=version["number"] if x2 - x1 > 14 else "",
            )
        )
    for sighting in sightings:
        x = _x(parse_when(sighting["seen_at"]), start, end)
        parts.append(
            Markup(
                '<line class="sighting" x1="{x:.1f}" x2="{x:.1f}" y1="{y1}" y2="{y2}" '
                'stroke="#123" stroke-width="1.5"><title>capture {cid}, {when}</title></line>'
            ).format(
                x=x,
                y1=BAR_Y + BAR_H + 2,
                y2=BAR_Y + BAR_H + 9,
                cid=sighting["capture_id"],
                when=sighting["seen_at"][:19],
            )
        )
    for change in changes:
        x = _x(parse_when(change["changed_at"]), start, end)
        flagged = bool(change.get("phrases"))
        label = (
            f"Change {change['id']} on {change['changed_at'][:10]}: {change['removed_passages']} "
            f"passage(s) removed, {change['added_passages']} added"
            + "".join(f'; "{e["phrase"]}" {e["event"]}' for e in change.get("phrases", []))
        )
        parts.append(
            Markup(
                '<a href="{href}" class="change"><path d="M{x:.1f} {y1} l7 -10 l-14 0 z" '
                'fill="{fill}"><title>{label}</title></path><line x1="{x:.1f}" x2="{x:.1f}" '
                'y1="{y1}" y2="{y2}" stroke="{fill}" stroke-width="2" /></a>'
            ).format(
                href=diff_href(change),
                x=x,
                y1=BAR_Y - 2,
                y2=BAR_Y + BAR_H,
                label=label,
                fill="#c0392b" if flagged else "#e08e0b",
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


@dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side diff: the old side, the new side, and how they differ."""

    tag: str  # equal, removed, added, replaced
    old: Markup
    new: Markup


def _marked(sentence_texts: list[str], css: str, boilerplate: set[str]) -> Markup:
    if not css:
        return Markup(" ").join(escape(text) for text in sentence_texts)
    out = []
    for text in sentence_texts:
        cls = css + (" boilerplate" if is_boilerplate([text], boilerplate) else "")
        # f-strings of escaped text, not Markup.format: a diff of a large page marks
        # hundreds of thousands of sentences, and format cost seconds of them.
        out.append(f'<span class="{cls}">{escape(text)}</span>')
    return Markup(" ".join(out))


TAGS = {"equal": ("equal", "", ""), "delete": ("removed", "del", ""), "insert": ("added", "", "ins")}


def diff_rows(old: str, new: str, boilerplate: set[str], max_chars: int | None = None) -> list[DiffRow]:
    """Sentence-level side-by-side diff of two main texts; boilerplate sentences are marked as such.

    With `max_chars`, rows stop once they hold that many characters of text
    (a last row tagged "cut" says so), so a huge page's diff is never marked up whole.
    """
    a, b = [s.text for s in sentences(old)], [s.text for s in sentences(new)]
    rows: list[DiffRow] = []
    budget = max_chars
    for tag, i1, i2, j1, j2 in opcodes(a, b):
        name, old_css, new_css = TAGS.get(tag, ("replaced", "del", "ins"))
        if budget is not None:
            budget -= sum(map(len, a[i1:i2])) + sum(map(len, b[j1:j2]))
            if budget < 0:
                rows.append(DiffRow("cut", Markup(""), Markup("")))
                break
        left = _marked(a[i1:i2], old_css, boilerplate) if tag != "insert" else Markup("")
        right = _marked(b[j1:j2], new_css, boilerplate) if tag != "delete" else Markup("")
        rows.append(DiffRow(name, left, right))
    return rows
