"""Sending alerts through Apprise, each pending one once, with the target's answer kept.

Apprise (https://github.com/caronc/apprise) speaks email, Slack, Discord,
Matrix, ntfy, webhooks and a hundred more from one URL each, which is why
changedetection.io and others use it. Its log is captured, never printed, and
what is kept of it has the target's secrets taken out first.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlite_utils

from archive.index.db import writing
from archive.notify import store
from archive.notify.messages import digest
from archive.sources.fields import PLACEHOLDER_RE
from archive.sources.model import Target

ANSWER_CHARS = 500


@dataclass
class Sent:
    """What one delivery round did."""

    sent: int = 0  # alerts delivered
    messages: int = 0  # messages that carried them (a digest carries many)
    failed: int = 0  # alerts tried and still pending
    dropped: int = 0  # alerts whose target left sources.yml
    answers: list[str] = field(default_factory=list)  # one line per failed target, secrets out

    def line(self) -> str:
        text = f"{self.sent} alert(s) sent in {self.messages} message(s)"
        if self.failed:
            text += f", {self.failed} kept for the next try"
        if self.dropped:
            text += f", {self.dropped} dropped (their target left sources.yml)"
        return text


def secrets_of(target: Target) -> dict[str, str]:
    """The values the target's ${VAR} placeholders took, by name, read back from its expanded URL."""
    parts = PLACEHOLDER_RE.split(target.written)
    names, literals = parts[1::2], parts[0::2]
    pattern = "".join(
        re.escape(lit) + (f"(?P<v{n}>.*?)" if n < len(names) else "") for n, lit in enumerate(literals)
    )
    found = re.fullmatch(pattern, target.url, re.DOTALL)
    if not found:
        return {}
    return {value: f"${{{name}}}" for n, name in enumerate(names) if len(value := found.group(f"v{n}")) >= 3}


def scrub(text: str, target: Target) -> str:
    """`text` with the target's URL and each of its secrets replaced by its placeholder."""
    text = text.replace(target.url, target.label)
    for value, name in sorted(secrets_of(target).items(), key=lambda kv: -len(kv[0])):
        text = text.replace(value, name)
    return " ".join(text.split())[:ANSWER_CHARS]


def send(target: Target, subject: str, body: str) -> tuple[bool, str]:
    """Send one message to one target; (delivered, the answer to keep)."""
    if target.unset:
        return False, target.unset
    import apprise

    notifier = apprise.Apprise()
    with apprise.LogCapture(level=logging.WARNING) as log:
        if not notifier.add(target.url):
            return False, f"Apprise does not understand the {target.label} URL (see its list of services)"
        # Plain text as written: Apprise would otherwise guess a format and fold lines.
        ok = bool(notifier.notify(title=subject, body=body, body_format=apprise.NotifyFormat.TEXT))
        output = log.getvalue().strip()
    if ok:
        return True, "sent"
    # A log line reads "time - LEVEL - message": the message is the answer.
    return False, scrub(output.splitlines()[-1].split(" - ", 2)[-1] if output else "not sent", target)


def deliver(db: sqlite_utils.Database, targets: list[Target], now: datetime) -> Sent:
    """Send every pending alert to its target (a digest target gets one message); record each outcome.

    No write lock is held while a message is on its way: each outcome is its own short transaction.
    """
    by_key = {t.key: t for t in targets}
    waiting: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in store.pending(db):
        waiting[row["target_key"]].append(row)
    done = Sent()
    for key, alerts in waiting.items():
        target = by_key.get(key)
        if target is None:
            with writing(db):
                store.drop(db, [a["id"] for a in alerts], "target no longer in sources.yml", now)
            done.dropped += len(alerts)
            continue
        _deliver_to(db, target, alerts, now, done)
    return done


def _deliver_to(
    db: sqlite_utils.Database, target: Target, alerts: list[dict[str, Any]], now: datetime, done: Sent
) -> None:
    """One target's pending alerts; after a failure the rest wait (a target down now is down for them too)."""
    batches = [alerts] if target.digest and len(alerts) > 1 else [[a] for a in alerts]
    for n, batch in enumerate(batches):
        subject, body = digest(batch) if len(batch) > 1 else (batch[0]["subject"], batch[0]["message"])
        ok, answer = send(target, subject, body)
        with writing(db):
            store.settle(db, [a["id"] for a in batch], ok, answer, now)
        if not ok:
            done.failed += sum(len(b) for b in batches[n:])
            done.answers.append(f"{target.label}: {answer}")
            return
        done.sent += len(batch)
        done.messages += 1
