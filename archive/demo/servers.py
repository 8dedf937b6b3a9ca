"""The demo's loopback servers started together: vendor site, records portals (HTML and JSON), Wayback
Machine, Atlas of Surveillance export."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from archive.archive import Archive
from archive.demo.atlas_site import demo_rows, export_csv, start_atlas_site
from archive.demo.nextrequest_portal import start_nextrequest_portal
from archive.demo.records_portal import start_records_portal
from archive.demo.vendor_site import start_vendor_site
from archive.demo.wayback_demo import demo_sim
from archive.demo.wayback_sim import start_wayback_sim
from archive.errors import ArchiveError
from archive.index.db import open_index

# Sources of the demo's sources.yml whose URLs name the fixtures' ports.
VENDOR_SOURCE = "northwind-recognize"
PORTAL_SOURCE = "clearwater-requests"
JSON_SOURCE = "harbor-city-requests"


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


def recorded_ports(archive: Archive) -> dict[str, int]:
    """The fixture ports an earlier demo run archived the fixtures under, by server name."""
    if not archive.exists():
        return {}
    index = open_index(archive)
    try:
        ports = {}
        for name, source in (("vendor", VENDOR_SOURCE), ("portal", PORTAL_SOURCE), ("json", JSON_SOURCE)):
            row = index.execute("SELECT urls FROM sources WHERE name = ?", [source]).fetchone()
            if row:
                ports[name] = urlsplit(json.loads(row[0])[0]).port
        row = index.execute("SELECT url FROM captures WHERE via = 'wayback' ORDER BY id LIMIT 1").fetchone()
        if row:
            ports["wayback"] = urlsplit(row[0]).port
    finally:
        index.close()
    return {name: port for name, port in ports.items() if port}


def start_demo_servers(port: int = 0, archive: Archive | None = None) -> DemoServers:
    """Start the vendor site on `port`, the records portal, the JSON portal and the Wayback Machine
    on the next three.

    An archive an earlier demo filled keeps its ports, so a second run adds a
    new crawl of the same sites rather than a copy under other addresses; if
    such a port is taken, that is an error naming it. Otherwise a taken port
    (or `port` 0) means any free one.
    """
    recorded = recorded_ports(archive) if archive is not None else {}
    names = ("vendor", "portal", "json", "wayback")
    wanted = {name: port + offset if port else 0 for offset, name in enumerate(names)}
    vendor = _start("vendor", lambda p: start_vendor_site(p)[0], wanted, recorded)
    portal = _start("portal", lambda p: start_records_portal(p)[0], wanted, recorded)
    json_portal = _start("json", start_nextrequest_portal, wanted, recorded)
    wayback = _start("wayback", lambda p: start_wayback_sim(demo_sim(vendor.url), p)[0], wanted, recorded)
    atlas, _ = start_atlas_site(export_csv(demo_rows(vendor.url, portal.url)))
    return DemoServers(vendor, portal, wayback, json_portal, atlas=atlas)


def _start(name: str, start: Any, wanted: dict[str, int], recorded: dict[str, int]) -> Any:
    if name in recorded:
        try:
            return start(recorded[name])
        except OSError as exc:
            raise ArchiveError(
                f"port {recorded[name]} is taken ({exc.strerror}): this archive holds the demo's {name} "
                f"at http://127.0.0.1:{recorded[name]}/, and another port would archive it again under "
                f"another address. Stop the program using it (`ss -ltnp 'sport = :{recorded[name]}'` "
                "names it) or use another --data directory"
            ) from None
    try:
        return start(wanted[name])
    except OSError:
        return start(0)  # the preferred port is taken and nothing was archived under it yet
