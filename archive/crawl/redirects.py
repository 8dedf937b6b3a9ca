"""Redirects whose target is no web address: the page is archived, the target is not followed.

Scrapy's redirect middlewares build the target's Request before checking its
scheme, so `<meta http-equiv=refresh content="0;url=javascript:...">` (or a
Location of `http://[bad`) raised ValueError: the page that carried it was
recorded as a fetch error and never archived. A hostile page is evidence too.
"""

from __future__ import annotations

import logging

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.http import Request, Response

log = logging.getLogger(__name__)


def _refused(request: Request, response: Response, exc: ValueError) -> Response:
    log.warning("not following the redirect of %s: %s", request.url, str(exc)[:200])
    return response


class SafeRedirectMiddleware(RedirectMiddleware):
    """Scrapy's RedirectMiddleware, keeping the response when its Location is no URL."""

    def process_response(self, request: Request, response: Response, spider=None) -> Request | Response:
        try:
            return super().process_response(request, response)
        except ValueError as exc:
            return _refused(request, response, exc)


class SafeMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's MetaRefreshMiddleware, keeping the page when its refresh target is no URL."""

    def process_response(self, request: Request, response: Response, spider=None) -> Request | Response:
        try:
            return super().process_response(request, response)
        except ValueError as exc:
            return _refused(request, response, exc)
