"""Alerts (archive/notify/) delivered to real receivers on loopback: an SMTP server and a webhook.

A vendor page is crawled again and again while its text changes between
crawls; a records table releases a new document. Each alert arrives once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from archive.demo.server import Incoming, LoopbackServer, Reply, free_port
from tests.servers.receivers import Webhook, start_smtp

from .conftest import db_rows, run_cli

SECRET = "hook-token-5f3a9c1e7b"
TRACKING = "Person tracking lets agencies follow persons of interest from a street camera."
PAGE = """<html><head><title>FaceFind | Acme Vision</title></head><body><main>
<h1>FaceFind</h1>
<p>FaceFind matches faces in recorded video for public-safety agencies.</p>
<p>{tracking}</p>
<p>Ask our public-sector team for a demonstration.</p>
</main></body></html>"""


class VendorPage:
    """A product page and a pricing page whose text the test changes between crawls."""

    def __init__(self) -> None:
        self.tracking = TRACKING
        self.price = "FaceFind costs 2 cents per face searched."

    def __call__(self, request: Incoming) -> Reply:
        if request.path == "/products/facefind/":
            return Reply(body=PAGE.format(tracking=self.tracking).encode())
        if request.path == "/pricing/":
            return Reply(
                body=f"<html><head><title>Pricing</title></head><body><p>{self.price}</p></body></html>".encode()
            )
        if request.path == "/robots.txt":
            return Reply(body=b"User-agent: *\nAllow: /\n", content_type="text/plain")
        return Reply(404, b"not found")


def _sources(path: Path, site: str, smtp_port: int, hook_port: int) -> Path:
    path.write_text(
        f"""
notify:
  - mailto://127.0.0.1:{smtp_port}?to=desk@example.org&from=spyglass@example.org&mode=insecure
  - json://127.0.0.1:{hook_port}/hook?+X-Token=${{HOOK_TOKEN}}
sources:
  - name: acme-facefind
    kind: vendor
    allow_private: [127.0.0.1]
    requisites: false
    urls: [{site}/products/facefind/]
    scope: {{max_depth: 0}}
    vendor: Acme Vision
    product: FaceFind
    watch: [person tracking]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def alerting(tmp_path: Path):
    """A vendor page, both receivers and a sources file sending to them."""
    page = VendorPage()
    site = LoopbackServer(page).start()
    smtp, inbox, smtp_port = start_smtp()
    webhook = Webhook()
    hook = webhook.serve()
    sources = _sources(tmp_path / "sources.yml", site.url, smtp_port, hook.port)
    state = {"page": page, "inbox": inbox, "webhook": webhook, "hook": hook, "sources": sources}
    yield state
    state["hook"].stop()
    smtp.stop()
    site.stop()


def _spyglass(state: dict, data: Path, *args: str, check: bool = True):
    return run_cli(
        *args,
        "--sources",
        str(state["sources"]),
        "--data",
        str(data),
        env={"HOOK_TOKEN": SECRET},
        check=check,
    )


def test_a_watched_phrase_that_disappears_is_told_once_to_each_receiver(alerting: dict, tmp_path: Path):
    data = tmp_path / "data"
    inbox, webhook = alerting["inbox"], alerting["webhook"]

    first = _spyglass(alerting, data, "crawl")
    assert inbox.mails == [] and webhook.posts == []  # a first sighting is not an event
    _spyglass(alerting, data, "crawl")
    assert inbox.mails == [] and webhook.posts == []  # nothing changed

    alerting["page"].tracking = "Contact us about licensing."
    third = _spyglass(alerting, data, "crawl")
    assert "Alerts: 2 new; 2 alert(s) sent in 2 message(s)." in third.stdout
    [mail] = inbox.mails
    [post] = webhook.posts
    assert mail.to == ["desk@example.org"]
    assert mail.subject == "“person tracking” disappeared from FaceFind | Acme Vision"
    assert post["title"] == mail.subject and post["token"] == SECRET
    for body in (mail.body, post["message"]):
        assert "The watched phrase “person tracking” disappeared from http://127.0.0.1:" in body
        assert f"Removed: “{TRACKING}”" in body
        assert "It changed between " in body and "Before: " in body and "After: " in body
    [change] = db_rows(data, "SELECT * FROM changes")
    assert change["from_citation"] in mail.body and change["to_citation"] in mail.body
    # No public address configured: no links.
    assert "Diff:" not in mail.body

    again = _spyglass(alerting, data, "notify")
    assert again.stdout.strip() == "Alerts: 0 new; 0 alert(s) sent in 0 message(s)."
    assert len(inbox.mails) == 1 and len(webhook.posts) == 1
    alerts = db_rows(data, "SELECT * FROM alerts ORDER BY target")
    assert [(a["target"], a["state"], a["answer"], a["kind"]) for a in alerts] == [
        (f"json://127.0.0.1:{alerting['hook'].port}", "sent", "sent", "phrase"),
        (alerts[1]["target"], "sent", "sent", "phrase"),
    ]
    assert alerts[1]["target"].startswith("mailto://127.0.0.1:")
    for out in (first, third, again):
        assert SECRET not in out.stdout + out.stderr
    assert SECRET.encode() not in b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())


def test_an_alert_waits_while_its_receiver_is_down_and_is_sent_once_when_it_returns(
    alerting: dict, tmp_path: Path
):
    data = tmp_path / "data"
    inbox, webhook = alerting["inbox"], alerting["webhook"]
    _spyglass(alerting, data, "crawl")
    port = alerting["hook"].port
    alerting["hook"].stop()  # the webhook goes down

    alerting["page"].tracking = "Contact us about licensing."
    crawl = _spyglass(alerting, data, "crawl")
    assert "Alerts: 2 new; 1 alert(s) sent in 1 message(s), 1 kept for the next try." in crawl.stdout
    assert f"note: alert not sent to json://127.0.0.1:{port}: " in crawl.stderr
    assert len(inbox.mails) == 1 and webhook.posts == []
    [waiting] = db_rows(data, "SELECT * FROM alerts WHERE state = 'pending'")
    assert waiting["attempts"] == 1 and waiting["sent_at"] is None and SECRET not in waiting["answer"]

    status = _spyglass(alerting, data, "status", check=False)
    assert status.returncode == 0 and "Alerts: 1 waiting to be sent (1 tried and failed)" in status.stdout
    tomorrow = _spyglass(alerting, data, "status", "--now", "2099-01-01T00:00:00Z", check=False)
    assert tomorrow.returncode == 1 and "1 waiting longer than allowed" in tomorrow.stderr

    down = _spyglass(alerting, data, "notify", check=False)
    assert down.returncode == 1 and webhook.posts == []

    alerting["hook"] = webhook.serve(port)  # back on its address
    back = _spyglass(alerting, data, "run-due")  # nothing is due: the waiting alert goes all the same
    assert "run-due: nothing due at " in back.stdout
    assert "run-due: Alerts: 0 new; 1 alert(s) sent in 1 message(s)." in back.stdout
    [post] = webhook.posts
    assert post["title"] == "“person tracking” disappeared from FaceFind | Acme Vision"
    _spyglass(alerting, data, "notify")
    _spyglass(alerting, data, "crawl")
    assert len(webhook.posts) == 1 and len(inbox.mails) == 1
    [sent] = db_rows(data, "SELECT * FROM alerts WHERE id = ?", (waiting["id"],))
    assert sent["state"] == "sent" and sent["attempts"] == 3


def test_notify_test_reaches_every_target_and_records_nothing(alerting: dict, tmp_path: Path):
    result = _spyglass(alerting, tmp_path / "data", "notify", "--test")
    assert "mailto://127.0.0.1:" in result.stdout and "json://127.0.0.1:" in result.stdout
    assert [m.subject for m in alerting["inbox"].mails] == ["Spyglass test alert"]
    assert [p["title"] for p in alerting["webhook"].posts] == ["Spyglass test alert"]
    assert (
        not (tmp_path / "data" / "spyglass.db").exists()
        or not sqlite3.connect(tmp_path / "data" / "spyglass.db")
        .execute("SELECT count(*) FROM alerts")
        .fetchone()[0]
    )


class ReleasedRecords:
    """An agency's table of released records; the test adds a row between crawls."""

    def __init__(self) -> None:
        self.rows = [("2026-11-02", "LPD-26-0101", "Parking enforcement contract", "parking.txt")]
        self.files = {"parking.txt": "The city renews its parking enforcement contract for two years."}

    def release(self, date: str, reference: str, title: str, name: str, text: str) -> None:
        self.rows.append((date, reference, title, name))
        self.files[name] = text

    def __call__(self, request: Incoming) -> Reply:
        if request.path == "/released/":
            cells = "".join(
                f'<tr><td>{d}</td><td>{r}</td><td>{t}</td><td><a href="/files/{n}">file</a></td></tr>'
                for d, r, t, n in self.rows
            )
            return Reply(
                body=(
                    "<html><head><title>Released records</title></head><body><h1>Released records</h1>"
                    "<table><thead><tr><th>Date released</th><th>Reference</th><th>Description</th>"
                    f"<th>Files</th></tr></thead><tbody>{cells}</tbody></table></body></html>"
                ).encode()
            )
        name = request.path.removeprefix("/files/")
        if name in self.files:
            return Reply(body=self.files[name].encode(), content_type="text/plain; charset=utf-8")
        if request.path == "/robots.txt":
            return Reply(body=b"User-agent: *\nAllow: /\n", content_type="text/plain")
        return Reply(404, b"not found")


def test_a_records_source_releasing_a_document_that_names_a_watched_product_alerts_once(tmp_path: Path):
    portal = ReleasedRecords()
    smtp, inbox, smtp_port = start_smtp()
    try:
        with LoopbackServer(portal) as server:
            sources = tmp_path / "sources.yml"
            sources.write_text(
                f"""
sources:
  - name: acme-facefind
    kind: vendor
    urls: [https://acme-vision.example/products/facefind/]
    vendor: Acme Vision
    product: FaceFind
  - name: lakeport-released
    kind: records
    allow_private: [127.0.0.1]
    urls: [{server.url}/released/]
    scope: {{prefixes: ["{server.url}/"]}}
    agency: Lakeport Police Department
    walk: {{shape: records-table}}
    notify:
      to: [mailto://127.0.0.1:{smtp_port}?to=desk@example.org&from=spyglass@example.org&mode=insecure]
      digest: true
""",
                encoding="utf-8",
            )
            data = tmp_path / "data"
            crawl = ("crawl", "--sources", str(sources), "--data", str(data), "--source", "lakeport-released")
            run_cli(*crawl, check=True)
            assert inbox.mails == []  # the first crawl of a records source is its baseline
            portal.release(
                "2026-12-01",
                "LPD-26-0140",
                "Face matching pilot: project notes",
                "pilot-notes.txt",
                "Project notes. The department tested FaceFind on body camera footage in October.",
            )
            portal.release(
                "2026-12-01",
                "LPD-26-0141",
                "Budget memo",
                "budget.txt",
                "A memo about next year's fleet budget.",
            )
            second = run_cli(*crawl, check=True)
            run_cli(*crawl, check=True)
            run_cli("notify", "--sources", str(sources), "--data", str(data), check=True)
    finally:
        smtp.stop()
    assert "Alerts: 1 new; 1 alert(s) sent in 1 message(s)." in second.stdout
    [mail] = inbox.mails  # the memo names no vendor term: no alert
    assert (
        mail.subject
        == "Lakeport Police Department released “Face matching pilot: project notes”, naming FaceFind"
    )
    assert (
        "Lakeport Police Department released “Face matching pilot: project notes” (source lakeport-released)"
        in mail.body
    )
    assert "Document: pilot-notes.txt" in mail.body and "It names: FaceFind" in mail.body


def test_alert_any_with_a_digest_sends_one_message_per_run_with_links_and_failed_runs(tmp_path: Path):
    page, webhook = VendorPage(), Webhook()
    closed = free_port()  # nothing listens here: every crawl of that source fails
    hook = webhook.serve()
    with LoopbackServer(page) as site:
        sources = tmp_path / "sources.yml"
        sources.write_text(
            f"""
notify:
  to: [json://127.0.0.1:{hook.port}/hook]
  digest: true
sources:
  - name: acme-site
    kind: vendor
    allow_private: [127.0.0.1]
    requisites: false
    urls: [{site.url}/products/facefind/, {site.url}/pricing/]
    scope: {{max_depth: 0}}
    product: FaceFind
    alert: any
  - name: acme-gone
    kind: vendor
    allow_private: [127.0.0.1]
    urls: [http://127.0.0.1:{closed}/]
""",
            encoding="utf-8",
        )
        args = ("crawl", "--sources", str(sources), "--data", str(tmp_path / "data"))
        env = {"SPYGLASS_PUBLIC_URL": "https://spyglass.example.org/"}
        run_cli(*args, "-s", "RETRY_TIMES=0", env=env)
        [failed] = webhook.posts
        assert failed["title"] == "Crawl of acme-gone (vendor) failed"
        assert "and failed:" in failed["message"]
        page.tracking = "Contact us about licensing."
        page.price = "FaceFind costs 3 cents per face searched."
        run_cli(*args, "-s", "RETRY_TIMES=0", env=env)
    hook.stop()
    assert len(webhook.posts) == 2
    digest = webhook.posts[1]
    assert digest["title"] == "Spyglass: 3 alert(s)"
    body = digest["message"]
    assert "1. Crawl of acme-gone (vendor) failed" not in body  # run 1's failure was told already
    assert "Pricing changed" in body and "FaceFind | Acme Vision changed" in body
    assert "Removed: “FaceFind costs 2 cents per face searched.”" in body
    assert "Added: “FaceFind costs 3 cents per face searched.”" in body
    assert "The watched phrase" not in body  # its product name stayed
    assert "Diff: https://spyglass.example.org/-/spyglass/diff?change=" in body
    assert "Capture: https://spyglass.example.org/-/spyglass/replay/" in body
    assert body.count("Crawl of acme-gone (vendor) failed") == 1


def test_what_verify_finds_reaches_every_target_once(tmp_path: Path):
    from archive.config import Config
    from archive.evidence.verify import Problem
    from archive.notify.run import altered
    from archive.sources.load import parse_sources
    from archive.times import utc_now

    webhook = Webhook()
    hook = webhook.serve()
    try:
        sources = parse_sources(
            {
                "sources": [
                    {
                        "name": "a",
                        "kind": "vendor",
                        "urls": ["https://a.example/"],
                        "notify": f"json://127.0.0.1:{hook.port}/a",
                    },
                    {
                        "name": "b",
                        "kind": "vendor",
                        "urls": ["https://b.example/"],
                        "notify": f"json://127.0.0.1:{hook.port}/b",
                    },
                ]
            },
            Path("sources.yml"),
            {},
        )
        config = Config(data_dir=tmp_path / "data")
        problems = [
            Problem(7, "https://a.example/", "a-00000.warc.gz:1234", "payload SHA-256 differs from the row")
        ]
        first = altered(config, sources, problems, utc_now())
        again = altered(config, sources, problems, utc_now())
    finally:
        hook.stop()
    assert first.line() == "Alerts: 2 new; 2 alert(s) sent in 2 message(s)."
    assert again.line() == "Alerts: 0 new; 0 alert(s) sent in 0 message(s)."
    assert sorted(p["path"] for p in webhook.posts) == ["/a", "/b"]
    assert {p["title"] for p in webhook.posts} == {"spyglass verify found 1 altered or missing record(s)"}
    assert (
        "capture 7 (https://a.example/) at a-00000.warc.gz:1234: payload SHA-256 differs"
        in webhook.posts[0]["message"]
    )
