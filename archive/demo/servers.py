"""The demo's loopback servers started together: vendor site, records portals (HTML and JSON), Wayback
Machine, Atlas of Surveillance export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archive.demo.atlas_site import demo_rows, export_csv, start_atlas_site
from archive.demo.nextrequest_portal import start_nextrequest_portal
from archive.demo.records_portal import start_records_portal
from archive.demo.vendor_site import start_vendor_site
from archive.demo.wayback_demo import demo_sim
from archive.demo.wayback_sim import start_wayback_sim


@dataclass
class DemoServers:
    """The running servers, and the `${VAR}` values sources.yml needs to point at them."""

    vendor: Any
    portal: Any
    wayback: Any
    json_portal: Any = None  # the NextRequest-style portal and its storage host
    atlas: Any = None  # the Atlas of Surveillance export (download.csv)

    @property
    def variables(self) -> dict[str, str]:
        """Values for the placeholders of the demo's sources.yml."""
        values = {"SPYGLASS_VENDOR_SITE": self.vendor.url, "SPYGLASS_RECORDS_PORTAL": self.portal.url}
        if self.json_portal is not None:
            values["SPYGLASS_JSON_PORTAL"] = self.json_portal.url
        return values

    def stop(self) -> None:
        self.vendor.stop()
        self.portal.stop()
        self.wayback.shutdown()
        if self.json_portal is not None:
            self.json_portal.stop()
        if self.atlas is not None:
            self.atlas.stop()


def start_demo_servers(port: int = 0) -> DemoServers:
    """Start the vendor site on `port`, the portal on the next and the JSON portal on the one
    after (stable URLs across demo runs), or on any free ports when those are taken (or `port` is 0)."""
    vendor = _start(start_vendor_site, port)
    portal = _start(start_records_portal, port + 1 if port else 0)
    wayback, _ = start_wayback_sim(demo_sim(vendor.url))
    try:
        json_portal = start_nextrequest_portal(port + 2 if port else 0)
    except OSError:
        json_portal = start_nextrequest_portal(0)  # the preferred port is taken
    atlas, _ = start_atlas_site(export_csv(demo_rows(vendor.url, portal.url)))
    return DemoServers(vendor, portal, wayback, json_portal, atlas=atlas)


def _start(start: Any, port: int) -> Any:
    try:
        server, _ = start(port)
    except OSError:
        server, _ = start(0)  # the preferred port is taken
    return server
