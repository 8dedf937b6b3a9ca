"""The pages the Wayback Machine answers with when it is not serving a memento, and its banner."""

from __future__ import annotations

import html

BANNER = (
    b'<!-- BEGIN WAYBACK TOOLBAR INSERT -->\n<script src="/_static/js/wombat.js"></script>'
    b'<div id="wm-ipp">Wayback Machine: the page below is an archived copy</div>\n'
    b"<!-- END WAYBACK TOOLBAR INSERT -->\n"
)
BLOCKED_ERROR = (
    "org.archive.util.io.RuntimeIOException: org.archive.wayback.exception."
    "AdministrativeAccessControlException: Blocked Site Error"
)


def error_page(title: str, message: str) -> bytes:
    """An error page in the Wayback Machine's style."""
    return (
        f'<!DOCTYPE html><html lang="en"><head><title>Wayback Machine</title></head><body>'
        f'<div id="error"><h2>{title}</h2><p>{html.escape(message)}</p></div></body></html>'
    ).encode()


EXCLUDED_PAGE = error_page("Sorry.", "This URL has been excluded from the Wayback Machine.")
NOT_ARCHIVED_PAGE = error_page("Hrm.", "The Wayback Machine has not archived that URL.")


def with_banner(payload: bytes) -> bytes:
    """The rewritten /web/<ts>/<url> page: the banner inserted after <body>."""
    head = payload.find(b"<body")
    if head < 0:
        return BANNER + payload
    end = payload.find(b">", head) + 1
    return payload[:end] + BANNER + payload[end:]
