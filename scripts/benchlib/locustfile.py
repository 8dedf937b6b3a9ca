"""Locust users for the publishing load test: reporters reading the archive, strangers attacking it.

Run by scripts/benchlib/load.py, which passes the capture ids to read through
SPYGLASS_LOAD_CAPTURES. A reporter's request counts as failed only on an error
status; a hostile one is expected to be refused (4xx) and fails only on a 5xx
or when it was answered in full.
"""

from __future__ import annotations

import os
import random
from urllib.parse import quote

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


class Reporter(HttpUser):
    """Searches from the front page, opens captures and their archived copies, runs the canned queries."""

    weight = 10
    wait_time = between(0.5, 2.0)

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
HOSTILE_PATHS = ["/-/spyglass/archived/99999999999999999999999", "/-/databases.json"]


class Stranger(HttpUser):
    """Sends the review's hostile requests back to back."""

    weight = 1
    fixed_count = 3
    wait_time = between(0.0, 0.2)

    @task(3)
    def hostile_sql(self) -> None:
        query = random.choice(HOSTILE_SQL)
        self._refused(f"/spyglass.json?sql={quote(query)}", "hostile: sql")

    @task(1)
    def hostile_path(self) -> None:
        self._refused(random.choice(HOSTILE_PATHS), "hostile: path")

    def _refused(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, catch_response=True) as response:
            if response.status_code >= 500 or response.status_code == 0:
                response.failure(f"HTTP {response.status_code}")
            elif response.status_code < 400:
                response.failure(f"answered in full: HTTP {response.status_code}")
            else:
                response.success()
