"""Scrapyd: deploy the project to a real Scrapyd on loopback, schedule a crawl through its API."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from archive.demo.server import free_port, wait_for_port

from .conftest import db_rows, run_cli


def _call(base: str, endpoint: str, data: bytes | None = None, headers: dict | None = None) -> dict:
    request = urllib.request.Request(f"{base}/{endpoint}", data=data, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    assert answer.get("status") == "ok", answer
    return answer


def _multipart(fields: dict[str, str], egg: Path) -> tuple[bytes, str]:
    boundary = "spyglass-egg-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="egg"; filename="spyglass.egg"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + egg.read_bytes()
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_scrapyd_runs_a_deployed_crawl_into_the_archive(vendor_site, tmp_path: Path):
    port = free_port()
    home = tmp_path / "scrapyd"
    home.mkdir()
    (home / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
        f"eggs_dir = {home}/eggs\nlogs_dir = {home}/logs\ndbs_dir = {home}/dbs\nitems_dir =\n"
        "max_proc = 1\npoll_interval = 0.2\n"
    )
    data = tmp_path / "data"
    sources = tmp_path / "sources.yml"
    sources.write_text(
        "sources:\n  - name: northwind\n    kind: vendor\n"
        f"    urls: ['{vendor_site[0]}/']\n"
        "    scope: {hosts: [127.0.0.1], max_depth: 1, max_pages: 8}\n"
        "    allow_private: [127.0.0.1]\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "scrapyd"], cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        egg = tmp_path / "spyglass.egg"
        run_cli("scrapyd-egg", "--out", str(egg), check=True)
        body, content_type = _multipart({"project": "spyglass", "version": "1"}, egg)
        deployed = _call(base, "addversion.json", body, {"Content-Type": content_type})
        assert deployed["spiders"] >= 3  # vendor, records, wayback
        form = urllib.parse.urlencode(
            [
                ("project", "spyglass"),
                ("spider", "vendor"),
                ("source", "northwind"),
                ("setting", f"SPYGLASS_DATA_DIR={data}"),
                ("setting", f"SPYGLASS_SOURCES_FILE={sources}"),
            ]
        ).encode()
        job = _call(base, "schedule.json", form)["jobid"]
        deadline = time.monotonic() + 90
        while True:
            jobs = _call(base, "listjobs.json?project=spyglass")
            if any(j["id"] == job for j in jobs["finished"]):
                break
            assert time.monotonic() < deadline, jobs
            time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)
    logs = "".join(p.read_text() for p in (home / "logs").rglob("*.log"))
    [run] = db_rows(data, "SELECT * FROM crawl_runs")
    assert (run["source"], run["spider"], run["status"]) == ("northwind", "vendor", "finished"), logs[-3000:]
    captured = {r["url"] for r in db_rows(data, "SELECT url FROM captures")}
    assert f"{vendor_site[0]}/" in captured and len(captured) >= 5
    assert run_cli("verify", "--data", str(data)).returncode == 0
