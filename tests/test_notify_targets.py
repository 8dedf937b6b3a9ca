"""`notify:` in sources.yml: defaults, errors naming file, source and field, and secrets kept out of sight."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.errors import ConfigError
from archive.notify.deliver import scrub, secrets_of, send
from archive.notify.events import altered_events
from archive.sources.load import parse_sources
from archive.sources.model import Target, select, source_to_dict

FILE = Path("sources.yml")
VENDOR = {"name": "acme", "kind": "vendor", "urls": ["https://acme.example/"]}


def _load(data: dict, variables: dict | None = None):
    return parse_sources(data, FILE, variables or {})


def test_the_file_wide_notify_is_every_sources_default_and_a_sources_own_replaces_it():
    mail = "mailto://${SMTP_USER}:${SMTP_PASSWORD}@smtp.example.org:587?to=desk@example.org"
    sources = _load(
        {
            "notify": {"to": [mail], "digest": True},
            "sources": [
                VENDOR,
                {**VENDOR, "name": "own", "notify": "json://hooks.example.org/spyglass", "alert": "any"},
                {**VENDOR, "name": "quiet", "notify": []},
            ],
        },
        {"SMTP_USER": "spyglass", "SMTP_PASSWORD": "pa55-w0rd-xyz"},
    )
    acme, own, quiet = sources
    [target] = acme.notify
    assert target.digest and target.written == mail and not target.unset
    assert target.url == "mailto://spyglass:pa55-w0rd-xyz@smtp.example.org:587?to=desk@example.org"
    assert [(t.written, t.digest) for t in own.notify] == [("json://hooks.example.org/spyglass", False)]
    assert own.alert == "any" and acme.alert == "phrases" and quiet.notify == ()
    # What the index keeps of a source (the sources table, served by Datasette) names targets by label only.
    assert source_to_dict(acme)["notify"] == ["mailto://smtp.example.org:587"]
    assert "pa55-w0rd-xyz" not in repr(acme) and "pa55-w0rd-xyz" not in str(source_to_dict(acme))


def test_a_targets_unset_secret_holds_back_its_alerts_not_the_crawl():
    [source] = _load({"sources": [{**VENDOR, "notify": "slack://${SLACK_TOKEN}/#desk"}]})
    assert select([source], []) == [source]
    [target] = source.notify
    assert target.unset == "sources.yml: source 'acme': field 'notify': placeholder ${SLACK_TOKEN} is not set"
    assert send(target, "subject", "body") == (False, target.unset)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            {"sources": [{**VENDOR, "notify": "desk@example.org"}]},
            "sources.yml: source 'acme': field 'notify': each target must be an Apprise URL like mailto://... or json://...",
        ),
        (
            {"notify": {"to": ["json://a.example/"], "every": "1d"}, "sources": [VENDOR]},
            "sources.yml: field 'notify.every': unknown field; use to, digest",
        ),
        (
            {"notify": {"to": ["json://a.example/"], "digest": "yes"}, "sources": [VENDOR]},
            "sources.yml: field 'notify.digest': must be true (one message per run) or false, got 'yes'",
        ),
        (
            {"notify": {"digest": True}, "sources": [VENDOR]},
            "sources.yml: field 'notify.to': is required: give at least one",
        ),
        (
            {"sources": [{**VENDOR, "notify": ["json://a.example/", "json://a.example/"]}]},
            "sources.yml: source 'acme': field 'notify': lists the same target twice",
        ),
        (
            {"sources": [{**VENDOR, "alert": "all"}]},
            "sources.yml: source 'acme': field 'alert': must be phrases (watched phrases and product names) "
            "or any (every change); got 'all'",
        ),
    ],
)
def test_bad_notify_fields_are_named_in_one_line(data: dict, error: str):
    with pytest.raises(ConfigError) as raised:
        _load(data)
    assert str(raised.value) == error


@pytest.mark.parametrize(
    ("written", "label"),
    [
        ("mailto://user:secret@smtp.example.org:587?to=desk@example.org", "mailto://smtp.example.org:587"),
        ("json://hooks.example.org/spyglass/abc123", "json://hooks.example.org"),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#desk", "slack://…"),  # tokens, not a host
        ("ntfy://secret-topic-name", "ntfy://…"),
        ("discord://${DISCORD_ID}/${DISCORD_TOKEN}", "discord://${DISCORD_ID}"),
        ("json://127.0.0.1:8080/hook", "json://127.0.0.1:8080"),
    ],
)
def test_a_target_shows_only_its_scheme_and_host(written: str, label: str):
    assert Target(written, written).label == label


def test_answers_are_kept_with_the_secrets_taken_out():
    target = Target(
        "json://hooks.example.org/x?+X-Token=tok-123456&-user=me",
        "json://hooks.example.org/x?+X-Token=${TOKEN}&-user=${U}",
    )
    assert secrets_of(target) == {"tok-123456": "${TOKEN}"}  # "me" is too short to find safely
    answer = scrub(
        "Connection error sending to json://hooks.example.org/x?+X-Token=tok-123456&-user=me", target
    )
    assert answer == "Connection error sending to json://hooks.example.org"
    assert scrub("refused tok-123456", target) == "refused ${TOKEN}"


def test_what_verify_finds_is_one_event_per_set_of_problems():
    from archive.evidence.verify import Problem

    problems = [
        Problem(n, f"https://acme.example/{n}", f"f.warc.gz:{n}", "payload differs") for n in range(60)
    ]
    [event] = altered_events(problems, "2026-12-07T00:00:00Z")
    assert event.subject == "spyglass verify found 60 altered or missing record(s)"
    assert "... and 10 more (run `spyglass verify`)" in event.message
    assert altered_events(list(reversed(problems)), "2026-12-08T00:00:00Z")[0].key == event.key
    assert altered_events(problems[:1], "2026-12-08T00:00:00Z")[0].key != event.key


def test_an_overdue_source_is_one_event_per_time_it_fell_due_and_is_recorded_once(tmp_path: Path):
    from datetime import UTC, datetime, timedelta

    from archive.index.db import open_db
    from archive.notify import store
    from archive.notify.events import overdue_events
    from archive.ops.schedule import Job, JobStatus

    [source] = _load({"sources": [{**VENDOR, "notify": "json://hooks.example.org/x"}]})
    now = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    late = JobStatus(
        Job(source, "vendor"),
        None,
        None,
        now - timedelta(hours=3),
        now - timedelta(hours=2),
        False,
        "overdue",
        now,
    )
    fine = JobStatus(Job(source, "vendor"), None, None, now, now, False, "ok", now)
    [event] = overdue_events([late, fine])
    assert event.key == "overdue:acme:vendor:2026-12-07T04:00:00Z"
    assert event.subject == "acme is overdue"
    assert event.message.startswith("acme (every 1d) was due by 2026-12-07 04:00 UTC and has not run.")
    db = open_db(tmp_path / "spyglass.db")
    assert store.record(db, event, source.notify, now) == 1
    assert store.record(db, event, source.notify, now) == 0  # found again: nothing new
    waiting = store.backlog(db, now + timedelta(days=2), 86400)
    assert (waiting.pending, waiting.failed, waiting.overdue) == (1, 0, 1)
    assert waiting.line() == (
        "Alerts: 1 waiting to be sent (0 tried and failed), the oldest since 2026-12-07T06:00:00.000000Z; "
        "1 waiting longer than allowed."
    )
