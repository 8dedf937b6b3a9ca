"""The benchmark's synthetic vendor site, written to files and served by nginx on a loopback port.

A Python server on the same 2 cores takes CPU from whichever crawler runs and
so flatters a slow pipeline (MEASURED.md: nginx costs ~0.3 CPU-s a run). The
pages are generated once by tests.servers.synthetic_site (deterministic for a
size), so every crawler in a run fetches the same bytes. Without nginx (a
machine where scripts/setup could not install it) Python's http.server serves
the same files, and the table says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from archive.demo.server import free_port, wait_for_port
from tests.servers.synthetic_site import IMAGES_PER_PAGE, PDF_EVERY, SyntheticSite

NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process off;
pid {root}/nginx.pid;
error_log {root}/error.log error;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    types {{ text/html html; application/pdf pdf; text/plain txt; application/xml xml; text/css css;
             application/javascript js; font/woff2 woff2; image/jpeg jpg; image/png png;
             image/x-icon ico; }}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root}/files;
    }}
}}
"""


@dataclass(frozen=True)
class ServedSite:
    """A running copy of the site: its base URL, how many responses a full crawl gets, who serves it."""

    base: str
    count: int
    server: str


def write_site(pages: int, root: Path, base: str) -> int:
    """Write every page, PDF, page requisite, robots.txt and the sitemap under root/files; returns
    the response count of a crawl of pages only."""
    site = SyntheticSite(pages)
    site.base = base
    files = root / "files"
    (files / "p").mkdir(parents=True)
    (files / "d").mkdir()
    for i in range(pages):
        (files / "p" / f"{i}.html").write_bytes(site.page(i, keep=False))
    pdf = site.pdf()
    for i in range(0, pages, PDF_EVERY):
        (files / "d" / f"{i}.pdf").write_bytes(pdf)
    for path, (body, _) in site.shared.items():  # page requisites: the stylesheet, its font...
        (files / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (files / path.lstrip("/")).write_bytes(body)
    (files / "img").mkdir()
    for i in range(pages):
        for n in range(IMAGES_PER_PAGE):
            (files / "img" / f"{i}-{n}.jpg").write_bytes(site.image(f"/img/{i}-{n}.jpg"))
    (files / "robots.txt").write_bytes(b"User-agent: *\nDisallow:\n")
    (files / "sitemap.xml").write_bytes(site.sitemap())
    return site.count()


@contextmanager
def serve_site(pages: int, root: Path) -> Iterator[ServedSite]:
    """Generate the site under `root` and serve it on 127.0.0.1 until the block ends."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    count = write_site(pages, root, base)
    # nginx's workers drop to an unprivileged user when started as root: let it read the files.
    if os.geteuid() == 0:
        for path in (root, *root.parents):
            mode = path.stat().st_mode
            if mode & 0o055 != 0o055:
                path.chmod(mode | 0o055)
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).exists()), None
    )
    if nginx:
        (root / "tmp").mkdir()
        conf = root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(root=root, port=port))
        cmd, server = [nginx, "-c", str(conf), "-p", str(root)], "nginx"
    else:
        cmd = [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(root / "files"),
        ]
        server = "Python http.server (nginx not installed: the server shares the crawler's CPU)"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, timeout=30)
        yield ServedSite(base, count, server)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
