"""Walking a JSON API: a source's JMESPath expressions and url: templates evaluated on a response.

The expressions and their defaults per service are declared in
archive/sources/api_walk.py. Everything here is pure: JSON in, values out; a
value that is not what the walk expects raises ItemProblem with a one-line
reason, so the spider can record it and go on with the other items.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import jmespath

from archive.sources.api_walk import TEMPLATE, CommunicationFields, Step, template_expressions


class ItemProblem(ValueError):
    """A response or an item the walk cannot read; the message says why in one line."""


@dataclass(frozen=True)
class FileEntry:
    """A file an item names: where to download it, the stable page to cite it by, its page texts."""

    url: str
    cite_url: str
    page_texts: tuple[str, ...] = ()
    human_url: str | None = None  # its own page a reader opens, when the walk names one


@lru_cache(maxsize=512)
def _compiled(expression: str) -> Any:
    return jmespath.compile(expression)


def search(expression: str, data: Any) -> Any:
    """The value of a JMESPath expression on `data` (None when it selects nothing)."""
    return _compiled(expression).search(data)


def parse_json(body: bytes, url: str) -> Any:
    """A response body as JSON, or ItemProblem saying why it is not JSON."""
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        head = " ".join(body[:60].decode("utf-8", "replace").split())
        raise ItemProblem(f"not JSON ({type(exc).__name__}: {exc}); the body starts {head!r}") from None


def text(expression: str | None, item: Any) -> str | None:
    """A field's value as text: strings as they are, numbers written out, lists joined by ', '."""
    if not expression:
        return None
    return _as_text(search(expression, item))


def text_block(expression: str | None, item: Any) -> str | None:
    """A long text field (a letter's body) as written: its lines kept, only its ends trimmed."""
    if not expression:
        return None
    value = search(expression, item)
    if isinstance(value, str):
        return value.strip() or None
    return _as_text(value)


def letter(fields: CommunicationFields, item: Any) -> dict[str, str | None]:
    """A communication's fields read from its item: key, sent_at, direction, sender, ... body."""
    return {
        "key": text(fields.key, item),
        "sent_at": text(fields.date, item),
        "direction": text(fields.direction, item),
        "sender": text(fields.sender, item),
        "recipient": text(fields.recipient, item),
        "subject": text(fields.subject, item),
        "body": text_block(fields.body, item),
        "status": text(fields.status, item),
    }


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        parts = [p for p in (_as_text(v) for v in value) if p]
        return ", ".join(parts) or None
    value = " ".join(str(value).split())
    return value or None


def item_text(item: Any) -> str | None:
    """Every text value of a JSON item (its nested objects' too), in order: what its entry says."""
    if isinstance(item, dict):
        parts = [item_text(v) for v in item.values()]
    elif isinstance(item, list):
        parts = [item_text(v) for v in item]
    else:
        return _as_text(item)
    return " ".join(p for p in parts if p) or None


def url(expression: str | None, item: Any, base: str, page: int | None = None) -> str | None:
    """An absolute URL from a JMESPath expression or a url: template on `item`; None if it names none.

    In a template, a placeholder at the very start is put in as it is (a base
    URL such as DocumentCloud's `asset_url`); the others are percent-encoded.
    """
    if not expression:
        return None
    if not expression.startswith(TEMPLATE):
        found = _as_text(search(expression, item))
        return urljoin(base, found) if found else None
    template = expression[len(TEMPLATE) :].strip()
    out, position = [], 0
    for part in template_expressions(template):
        start = template.index("{", position)
        end = _closing(template, start)
        out.append(template[position:start])
        value = str(page) if part == "n" and page is not None else _as_text(search(part, item))
        if value is None:
            raise ItemProblem(f"{{{part}}} in {expression!r} has no value in this item")
        out.append(value if start == 0 else quote(value, safe="-_.~"))
        position = end + 1
    out.append(template[position:])
    return urljoin(base, "".join(out))


def _closing(template: str, start: int) -> int:
    depth = 0
    for index in range(start, len(template)):
        depth += {"{": 1, "}": -1}.get(template[index], 0)
        if depth == 0:
            return index
    raise ItemProblem(f"unbalanced braces in {template!r}")


def items(step: Step, data: Any) -> list[Any]:
    """The items of a response: a list, or ItemProblem when the expression finds something else."""
    found = search(step.items, data)
    if found is None:
        return []
    if not isinstance(found, list):
        raise ItemProblem(f"items {step.items!r} is a {type(found).__name__}, not a list")
    return found


def next_page(step: Step, data: Any, response_url: str, seen: int) -> str | None:
    """The next page's URL: the one the response names, or the page parameter plus one.

    With `page_param`, a page without items ends the listing, and so does
    reaching `total` items when the response says how many there are.
    """
    if step.next_page:
        return url(step.next_page, data, response_url)
    if not step.page_param:
        return None
    if not items(step, data):
        return None
    if step.total:
        total = search(step.total, data)
        if isinstance(total, int) and seen >= total:
            return None
    parts = urlsplit(response_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    current = next((v for k, v in query if k == step.page_param), None)
    number = int(current) + 1 if current and current.isdigit() else 2
    query = [(k, v) for k, v in query if k != step.page_param] + [(step.page_param, str(number))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def files(step: Step, item: Any, base: str) -> list[FileEntry]:
    """The files an item names, each with its stable page (its own URL when the walk names none)."""
    if not step.files:
        return []
    entries = search(step.files, item)
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ItemProblem(f"files {step.files!r} is a {type(entries).__name__}, not a list")
    found = []
    for entry in entries:
        address = url(step.file_url, entry, base)
        if not address:
            raise ItemProblem(f"a file entry has no URL at {step.file_url!r}")
        cite = url(step.file_page, entry, base) if step.file_page else None
        texts: tuple[str, ...] = ()
        if step.page_text and step.page_count:
            count = search(step.page_count, entry)
            if not isinstance(count, int) or count < 0:
                raise ItemProblem(f"page_count {step.page_count!r} is {count!r}, not a number of pages")
            texts = tuple(url(step.page_text, entry, base, page=n) or "" for n in range(1, count + 1))
        human = url(step.file_human, entry, base) if step.file_human else None
        found.append(FileEntry(address, cite or address, texts, human))
    return found


def follows(values: Any, each: str | None) -> list[Any]:
    """The values of an item a follow step is fetched for: the item itself, or each of `each`."""
    if not each:
        return [values]
    found = search(each, values)
    if found is None:
        return []
    return found if isinstance(found, list) else [found]
