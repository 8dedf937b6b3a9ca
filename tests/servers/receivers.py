"""Real alert receivers on loopback: an SMTP server (aiosmtpd) and a webhook that takes Apprise's json://."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

from archive.demo.server import Incoming, LoopbackServer, Reply, free_port


@dataclass
class Mail:
    """One email as received: its envelope recipients, subject and plain-text body."""

    to: list[str]
    subject: str
    body: str


@dataclass
class SmtpReceiver:
    """Keeps every message an SMTP client delivers (aiosmtpd's handle_DATA hook)."""

    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        self.mails.append(Mail(list(envelope.rcpt_tos), str(message["subject"]), body))
        return "250 OK"


def start_smtp() -> tuple[Controller, SmtpReceiver, int]:
    """An SMTP server on 127.0.0.1 (no TLS, no login), started; (controller, receiver, port)."""
    receiver = SmtpReceiver()
    port = free_port()
    controller = Controller(receiver, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, receiver, port


class Webhook:
    """Takes the JSON Apprise posts for json:// targets ({"title": ..., "message": ...})."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, request: Incoming) -> Reply:
        if request.method != "POST":
            return Reply(405)
        with self.lock:
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.posts.append(
                {**json.loads(request.body), "path": request.path, "token": headers.get("x-token")}
            )
        return Reply(200, b"{}", content_type="application/json")

    def serve(self, port: int = 0) -> LoopbackServer:
        """Serve on `port` (0: a free one); a stopped webhook comes back on its old port."""
        return LoopbackServer(self, port=port).start()
