"""Locust users for the publishing load test: reporters reading the archive, strangers attacking it.

Run by scripts/benchlib/load.py, which passes the capture ids to read through
SPYGLASS_LOAD_CAPTURES and the heavy pages through SPYGLASS_LOAD_HEAVY. A
reporter's request counts as failed only on an error status; a hostile one is
expected to be refused (4xx) and fails only on a 5xx or when it was answered
in full; one sent to heavy work may be answered, but fails on a 5xx other than
503 or when it runs past BOUNDED_SECONDS.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import time
from urllib.parse import quote

from attacks import heavy_paths  # Locust puts this file's directory on the path as it loads it
from locust import HttpUser, between, task

CAPTURES = [int(i) for i in os.environ.get("SPYGLASS_LOAD_CAPTURES", "1").split(",")]
WORDS = (
    "face",
    "recognition",
    "camera",
    "police",
    "video",
    "search",
    "data",
    "cloud",
    "person tracking",
    "face search",
)


# Each user is its own client, as the reverse proxy in front of `spyglass serve` tells it
# (X-Forwarded-For, which the server trusts from 127.0.0.1): the per-client gates see them apart.
CLIENTS = itertools.count(1)


def as_own_client(user: HttpUser, network: int) -> None:
    n = next(CLIENTS)
    user.client.headers["X-Forwarded-For"] = f"10.{network}.{n // 250}.{n % 250 + 1}"


class Reporter(HttpUser):
    """Searches from the front page, opens captures and their archived copies, runs the canned queries."""

    weight = 10
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        as_own_client(self, 1)

    @task(4)
    def front_search(self) -> None:
        self.client.get(
            f"/-/spyglass/search?q={quote(random.choice(WORDS))}", name="reporter: front-page search"
        )

    @task(1)
    def front_page(self) -> None:
        self.client.get("/", name="reporter: front page")

    @task(2)
    def search(self) -> None:
        self.client.get(f"/spyglass/search?q={quote(random.choice(WORDS))}", name="reporter: search")

    @task(2)
    def table_search(self) -> None:
        self.client.get(
            f"/spyglass/captures?_search={quote(random.choice(WORDS))}", name="reporter: table search"
        )

    @task(3)
    def capture_page(self) -> None:
        self.client.get(f"/spyglass/captures/{random.choice(CAPTURES)}", name="reporter: capture page")

    @task(2)
    def archived_copy(self) -> None:
        capture = random.choice(CAPTURES)
        self.client.get(f"/-/spyglass/replay/{capture}", name="reporter: replay page")
        self.client.get(f"/-/spyglass/archived/{capture}", name="reporter: archived copy")

    @task(1)
    def canned(self) -> None:
        self.client.get("/spyglass/agency_products", name="reporter: canned query")


HOSTILE_SQL = [
    "select " + ", ".join(["length(randomblob(400000000))"] * 6),
    "select randomblob(100000000)",
    "select fts3_tokenizer('simple')",
    "with recursive r(n) as (select 1 union all select n + 1 from r where n < 1000) "
    "select printf('%.*c', 9000000, 'x') from r",
    "with recursive r(n) as (select 1 union all select n + 1 from r where n < 100000000) "
    "select count(*) from r",
]
HUGE = "9" * 23
HOSTILE_PATHS = [
    f"/-/spyglass/archived/{HUGE}",
    "/-/databases.json",
    "/-/threads.json",
    f"/-/spyglass/verify/{HUGE}",
    f"/-/spyglass/diff?change={HUGE}",
    f"/-/spyglass/diff?from={HUGE}&to=1",
    f"/spyglass/captures.json?id__gt={HUGE}",
    "/spyglass/captures.json?_through=notjson",
    "/spyglass/captures.json?_sort=nonexistent",
    f"/spyglass.json?sql={quote('select sql from sqlite_stmt')}",
    f"/spyglass.json?sql={quote('select file from pragma_database_list')}",
]
# The heavy pages scripts/benchlib/heavy.py added: change,from,to,big capture,page URL.
HEAVY = os.environ.get("SPYGLASS_LOAD_HEAVY", "").split(",", 4)
# A stranger's request that may be answered (it is bounded), but never past this.
BOUNDED_SECONDS = 10.0


class Stranger(HttpUser):
    """Sends the review's hostile requests back to back."""

    weight = 1
    fixed_count = 3
    wait_time = between(0.0, 0.2)

    def on_start(self) -> None:
        as_own_client(self, 2)

    @task(3)
    def hostile_sql(self) -> None:
        query = random.choice(HOSTILE_SQL)
        self._refused(f"/spyglass.json?sql={quote(query)}", "hostile: sql")

    @task(1)
    def hostile_path(self) -> None:
        self._refused(random.choice(HOSTILE_PATHS), "hostile: path")

    @task(3)
    def heavy_work(self) -> None:
        """Diffs, phrases, searches and replays of the heavy pages: bounded, or 503/429."""
        if len(HEAVY) < 5:
            return
        path = random.choice(heavy_paths(*HEAVY))
        # Named by route, so the statistics say which heavy work takes long.
        self._bounded(path, "hostile: heavy " + re.sub(r"/\d+$", "/ID", path.split("?")[0]))

    @task(1)
    def heavy_head(self) -> None:
        if len(HEAVY) == 5:
            self._bounded(f"/-/spyglass/archived/{HEAVY[3]}", "hostile: HEAD of a heavy page", "HEAD")

    def _bounded(self, path: str, name: str, method: str = "GET") -> None:
        started = time.monotonic()
        with self.client.request(method, path, name=name, catch_response=True, stream=True) as response:
            for _ in response.iter_content(65536):  # read, and drop, whatever is answered
                pass
            took = time.monotonic() - started
            if response.status_code >= 500 and response.status_code != 503 or response.status_code == 0:
                response.failure(f"HTTP {response.status_code}")
            elif took > BOUNDED_SECONDS:
                response.failure(f"ran {took:.0f} s")
            else:
                response.success()

    def _refused(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, catch_response=True) as response:
            if response.status_code >= 500 or response.status_code == 0:
                response.failure(f"HTTP {response.status_code}")
            elif response.status_code < 400:
                response.failure(f"answered in full: HTTP {response.status_code}")
            else:
                response.success()
