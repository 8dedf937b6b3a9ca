"""How to walk a records portal that answers in JSON, as sources.yml declares it, with defaults per service.

A JSON walk names, with JMESPath expressions (https://jmespath.org), where a
listing's releases are, how to reach its next page, each release's fields, the
child listings to fetch for each release (`follow`) and, on the way, the
released files. A value written `url:...` is a URL template instead: each
`{expression}` in it is a JMESPath expression evaluated on the item, e.g.
`url:/api_v2/communications/?foia={id}`; relative URLs resolve against the
response that listed the item.

Three shapes come with defaults that follow each service's published API:

- `muckrock`: MuckRock's API v2 (`/api_v2/requests/` with `search`, `agency`,
  `status` filters, paginated as `{count, next, previous, results}`); each
  request's communications (`/api_v2/communications/?foia=ID`) are rows of
  their own (date, direction, sender, subject, body); a communication lists its
  file IDs, or, when it has no `files` list, its files are asked of
  `/api_v2/files/?communication=ID`; each file (`/api_v2/files/ID/`) names its
  `ffile` URL on MuckRock's CDN; the agency's name comes from
  `/api_v2/agencies/ID/`; the request's human page is its `absolute_url`.
- `documentcloud`: DocumentCloud's documents API (`/api/documents/?project=N`
  or `/api/documents/search/?q=...`, `{next, previous, results}`); each
  document's PDF and per-page text live under its `asset_url`, and its
  `canonical_url` is the page a reader opens and cites (archived too).
- `nextrequest`: a NextRequest portal's client API (`/client/requests`,
  `{total_count, requests}`, counted by `page_number`), each request's
  documents from `/client/request_documents?request_id=ID`, downloaded from
  `/documents/ID/download` (which redirects to an expiring storage URL) and
  cited by `/documents/ID`.

Any value given in sources.yml replaces the shape's default. The expressions
are evaluated by archive/records/api.py.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

API_SHAPES = ("json", "muckrock", "documentcloud", "nextrequest")

# Fields of a step: one JSON response and the items in it. `name` says what its items are
# (requests, communications, files): the run's summary counts them by it.
STEP_FIELDS = (
    "items",
    "next_page",
    "page_param",
    "total",
    "files",
    "file_url",
    "file_page",
    "file_human",
    "page_text",
    "page_count",
)
NAMING_FIELDS = ("name", "communication")
# Fields of a communication (a letter in a request's thread), each a JMESPath expression.
COMMUNICATION_FIELDS = ("key", "date", "direction", "sender", "recipient", "subject", "body", "status")
# Fields of the release each item of the first listing is.
RELEASE_FIELDS = (
    "key",
    "page_url",
    "title",
    "agency",
    "reference",
    "released_at",
    "status",
    "version",
    "agency_lookup",
    "agency_name",
    "human_url",
    "submitted_at",
    "due_at",
    "completed_at",
    "jurisdiction",
    "jurisdiction_lookup",
    "jurisdiction_name",
    "embargo",
)
FOLLOW_FIELDS = ("url", "each", *STEP_FIELDS, *NAMING_FIELDS, "follow")
API_FIELDS = ("shape", "budget", *RELEASE_FIELDS, *STEP_FIELDS, *NAMING_FIELDS, "follow")

# Which per-service rate budget a shape's API requests spend (archive/records/budget.py).
BUDGETS = ("muckrock", "documentcloud", "nextrequest", "none")

TEMPLATE = "url:"


@dataclass(frozen=True)
class CommunicationFields:
    """Where a communication's fields are in its item: JMESPath expressions (None: not given)."""

    key: str | None = "id"
    date: str | None = None
    direction: str | None = None  # 'incoming' (from the agency) or 'outgoing'
    sender: str | None = None
    recipient: str | None = None
    subject: str | None = None
    body: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class Step:
    """One kind of JSON response: where its items are, its next page, and the files each item names."""

    name: str = "items"  # what its items are: the run's summary counts them by this name
    communication: CommunicationFields | None = None  # its items are communications of the release

    items: str = "@"  # the list of items; '@' when the response is the list itself
    next_page: str | None = None  # the next page's URL
    page_param: str | None = None  # or: the query parameter that counts pages (1, 2, ...)
    total: str | None = None  # with page_param: how many items there are in all
    files: str | None = None  # an item's file entries (objects or URL strings)
    file_url: str = "@"  # a file entry's URL to download (it may expire)
    file_page: str | None = None  # a file entry's stable page to cite (default: its URL)
    file_human: str | None = None  # a file entry's page a reader opens (default: its request's human page)
    page_text: str | None = None  # url: template of the service's text of page {n}
    page_count: str | None = None  # a file entry's number of pages, for page_text
    follow: tuple[Follow, ...] = ()  # child listings fetched for each item


@dataclass(frozen=True)
class Follow:
    """A child listing of each item: its URL (per value of `each`) and how to read its responses."""

    url: str
    each: str | None = None  # values of the item to follow one by one (default: the item)
    step: Step = Step()


@dataclass(frozen=True)
class ApiWalk:
    """A JSON API's releases: the first listing's step, each release's fields, and the rate budget."""

    listing: Step
    budget: str = "none"
    key: str | None = "id"
    page_url: str | None = None  # the stable page to cite (default: the listing URL#key)
    title: str | None = None
    agency: str | None = None
    reference: str | None = None
    released_at: str | None = None
    status: str | None = None
    version: str | None = None  # changes when the release changes: unchanged ones are not walked again
    agency_lookup: str | None = None  # url: template of a record naming the agency
    agency_name: str | None = None  # the agency's name in that record
    human_url: str | None = None  # the page a reader opens: archived beside the API record, and cited
    submitted_at: str | None = None
    due_at: str | None = None
    completed_at: str | None = None
    jurisdiction: str | None = None
    jurisdiction_lookup: str | None = None  # url: template on the agency's record, of its jurisdiction's
    jurisdiction_name: str | None = None  # the jurisdiction's name in that record
    embargo: str | None = None

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "listing"}
        return {**values, "listing": _step_dict(self.listing)}


def _step_dict(step: Step) -> dict[str, Any]:
    values = {
        f.name: getattr(step, f.name) for f in fields(step) if f.name not in ("follow", "communication")
    }
    if step.communication is not None:
        values["communication"] = {
            f.name: getattr(step.communication, f.name) for f in fields(CommunicationFields)
        }
    values["follow"] = [{"url": f.url, "each": f.each, **_step_dict(f.step)} for f in step.follow]
    return values


# A file is cited by its own record in the API, which names it, its date and its agency.
_MUCKROCK_FILE = {
    "name": "files",
    "each": "files",
    "url": "url:/api_v2/files/{@}/",
    "items": "[@]",
    "files": "[@]",
    "file_url": "ffile",
    "file_page": "url:/api_v2/files/{id}/",
}
# A portal whose communications carry no `files` list lists them by communication instead.
_MUCKROCK_FILES_OF = {
    "name": "files",
    "each": "[@][?files == null].id",
    "url": "url:/api_v2/files/?communication={@}",
    "items": "results",
    "next_page": "next",
    "files": "[@]",
    "file_url": "ffile",
    "file_page": "url:/api_v2/files/{id}/",
}

DEFAULTS: dict[str, dict[str, Any]] = {
    "json": {},
    "muckrock": {
        "budget": "muckrock",
        "name": "requests",
        "items": "results",
        "next_page": "next",
        # The API's own address of the request: stable, and it always answers with the request.
        "page_url": "url:/api_v2/requests/{id}/",
        "title": "title",
        "reference": "tracking_id",
        "released_at": "datetime_done",
        "status": "status",
        "version": "datetime_updated",
        "agency_lookup": "url:/api_v2/agencies/{agency}/",
        "agency_name": "name",
        "jurisdiction_lookup": "url:/api_v2/jurisdictions/{jurisdiction}/",
        "jurisdiction_name": "name",
        "human_url": "absolute_url",
        "submitted_at": "datetime_submitted",
        "due_at": "date_due",
        "completed_at": "datetime_done",
        "embargo": "embargo_status",
        "follow": [
            {
                "name": "communications",
                "url": "url:/api_v2/communications/?foia={id}",
                "items": "results",
                "next_page": "next",
                # `response`: the agency wrote it; else the requester did.
                "communication": {
                    "key": "id",
                    "date": "datetime",
                    "direction": "response && 'incoming' || 'outgoing'",
                    "sender": "from_user",
                    "recipient": "to_user",
                    "subject": "subject",
                    "body": "communication",
                    "status": "status",
                },
                "follow": [_MUCKROCK_FILE, _MUCKROCK_FILES_OF],
            }
        ],
    },
    "documentcloud": {
        "budget": "documentcloud",
        "name": "documents",
        "items": "results",
        "next_page": "next",
        "page_url": "canonical_url",
        "human_url": "canonical_url",
        "title": "title",
        "agency": "source",
        "reference": "to_string(id)",
        "released_at": "created_at",
        "status": "access",
        "version": "updated_at",
        "files": "[@]",
        "file_url": "url:{asset_url}documents/{id}/{slug}.pdf",
        "file_page": "canonical_url",
        "file_human": "canonical_url",
        "page_text": "url:{asset_url}documents/{id}/pages/{slug}-p{n}.txt",
        "page_count": "page_count",
    },
    "nextrequest": {
        "budget": "nextrequest",
        "name": "requests",
        "items": "requests",
        "page_param": "page_number",
        "total": "total_count",
        "page_url": "url:/requests/{id}",
        "human_url": "url:/requests/{id}",
        "title": "request_text",
        "agency": "department_names",
        "reference": "id",
        "released_at": "closed_date",
        "status": "request_state",
        "follow": [
            {
                "name": "documents",
                "url": "url:/client/request_documents?request_id={id}",
                "items": "documents",
                "page_param": "page_number",
                "total": "total_documents_count",
                "files": "[@]",
                "file_url": "url:/documents/{id}/download",
                "file_page": "url:/documents/{id}",
                "file_human": "url:/documents/{id}",
            }
        ],
    },
}


class WalkProblem(ValueError):
    """A JSON walk value that cannot be used: `field` names it (walk.follow[0].items)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def build_api_walk(raw: dict[str, Any]) -> ApiWalk:
    """An ApiWalk from sources.yml's `walk:` mapping, the shape's defaults filling the gaps.

    Raises WalkProblem naming the field of the first unusable value.
    """
    shape = raw.get("shape")
    values = {**DEFAULTS[shape], **{k: v for k, v in raw.items() if v is not None}}
    unknown = set(values) - set(API_FIELDS)
    if unknown:
        raise WalkProblem(f"walk.{sorted(unknown)[0]}", "unknown field")
    budget = values.get("budget", "none")
    if budget not in BUDGETS:
        raise WalkProblem("walk.budget", f"must be one of {', '.join(BUDGETS)}; got {budget!r}")
    release = {}
    for name in RELEASE_FIELDS:
        if name in values:
            release[name] = _expression(values[name], f"walk.{name}")
    for kind in ("agency", "jurisdiction"):
        if release.get(f"{kind}_lookup") and not release.get(f"{kind}_name"):
            raise WalkProblem(
                f"walk.{kind}_name",
                f"is required with {kind}_lookup (the {kind}'s name in the looked-up record, e.g. 'name')",
            )
    return ApiWalk(listing=_step(values, "walk"), budget=budget, **release)


def _step(values: dict[str, Any], where: str) -> Step:
    step = {
        name: _expression(values[name], f"{where}.{name}")
        for name in STEP_FIELDS
        if values.get(name) is not None
    }
    for name in ("page_param",):
        if name in step and (not isinstance(values[name], str) or "=" in values[name]):
            raise WalkProblem(f"{where}.{name}", "must be a query parameter name, e.g. page_number")
    if step.get("page_text") and not step.get("page_count"):
        raise WalkProblem(f"{where}.page_count", "is required with page_text (how many pages)")
    raw_follow = values.get("follow") or []
    if not isinstance(raw_follow, list):
        raise WalkProblem(f"{where}.follow", "must be a list of child listings (url, items, ...)")
    follows = []
    for index, entry in enumerate(raw_follow):
        here = f"{where}.follow[{index}]"
        if not isinstance(entry, dict):
            raise WalkProblem(here, "must be a mapping (url, each, items, files, ...)")
        unknown = set(entry) - set(FOLLOW_FIELDS)
        if unknown:
            raise WalkProblem(f"{here}.{sorted(unknown)[0]}", "unknown field")
        if not entry.get("url"):
            raise WalkProblem(f"{here}.url", "is required: the child listing's URL (url: template)")
        follows.append(
            Follow(
                url=_expression(entry["url"], f"{here}.url"),
                each=_expression(entry["each"], f"{here}.each") if entry.get("each") else None,
                step=_step(entry, here),
            )
        )
    name = values.get("name") or ("releases" if where == "walk" else where)
    if not isinstance(name, str):
        raise WalkProblem(f"{where}.name", "must be text: what the step's items are (communications, files)")
    return Step(**step, name=name, communication=_communication(values, where), follow=tuple(follows))


def _communication(values: dict[str, Any], where: str) -> CommunicationFields | None:
    """The step's communication fields, or None when its items are not communications."""
    raw = values.get("communication")
    if raw is None:
        return None
    here = f"{where}.communication"
    if not isinstance(raw, dict):
        raise WalkProblem(here, f"must be a mapping of {', '.join(COMMUNICATION_FIELDS)}")
    unknown = set(raw) - set(COMMUNICATION_FIELDS)
    if unknown:
        raise WalkProblem(f"{here}.{sorted(unknown)[0]}", "unknown field")
    given = {k: _expression(v, f"{here}.{k}") for k, v in raw.items() if v is not None}
    return CommunicationFields(**{"key": None, **given})


def _expression(value: Any, where: str) -> str:
    """`value` if it is a JMESPath expression or a url: template that compiles; else WalkProblem."""
    if not isinstance(value, str) or not value.strip():
        raise WalkProblem(where, "must be a JMESPath expression or a url: template (text)")
    value = value.strip()
    try:
        if value.startswith(TEMPLATE):
            for expression in template_expressions(value):
                if expression != "n":
                    jmespath.compile(expression)
        else:
            jmespath.compile(value)
    except (JMESPathError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise WalkProblem(where, f"not a valid JMESPath expression: {value!r} ({detail})") from None
    return value


def template_expressions(template: str) -> list[str]:
    """The `{expression}` parts of a url: template, in order; ValueError if a brace is unbalanced."""
    found, depth, start = [], 0, 0
    for index, char in enumerate(template):
        if char == "{":
            if depth == 0:
                start = index + 1
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                raise ValueError("a '}' closes nothing")
            if depth == 0:
                found.append(template[start:index].strip())
    if depth:
        raise ValueError("a '{' is never closed")
    if any(not part for part in found):
        raise ValueError("an empty {} placeholder")
    return found
