"""JSON walks: declarations refused in one line naming the field, and expressions evaluated exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.errors import ConfigError
from archive.records import api
from archive.records.api import ItemProblem
from archive.records.budget import ServiceBudget
from archive.sources.api_walk import Step
from archive.sources.load import parse_sources
from archive.sources.walk import build_walk

PATH = Path("sources.yml")


def source(walk: dict) -> dict:
    return {
        "sources": [
            {"name": "api", "kind": "records", "urls": ["https://api.example.org/list"], "walk": walk}
        ]
    }


@pytest.mark.parametrize(
    ("walk", "message"),
    [
        (
            {"shape": "json", "items": "results[?"},
            "sources.yml: source 'api': field 'walk.items': not a valid JMESPath expression: 'results[?'",
        ),
        (
            {"shape": "muckrock", "follow": [{"url": "url:/x/{id}", "bogus": 1}]},
            "sources.yml: source 'api': field 'walk.follow[0].bogus': unknown field",
        ),
        (
            {"shape": "json", "follow": [{"items": "results"}]},
            "sources.yml: source 'api': field 'walk.follow[0].url': is required",
        ),
        (
            {"shape": "json", "page_text": "url:/p/{n}"},
            "sources.yml: source 'api': field 'walk.page_count': is required with page_text",
        ),
        (
            {"shape": "json", "page_url": "url:/requests/{id"},
            "sources.yml: source 'api': field 'walk.page_url': not a valid JMESPath expression",
        ),
        (
            {"shape": "nextrequest", "budget": "fast"},
            "sources.yml: source 'api': field 'walk.budget': must be one of muckrock, documentcloud",
        ),
        (
            {"shape": "json", "release_links": "a"},
            "sources.yml: source 'api': field 'walk.release_links': unknown field",
        ),
        (
            {"shape": "json", "follow": [{"url": "url:/c/{id}", "communication": {"sent": "date"}}]},
            "sources.yml: source 'api': field 'walk.follow[0].communication.sent': unknown field",
        ),
        (
            {"shape": "json", "follow": [{"url": "url:/c/{id}", "communication": {"body": "text[?"}}]},
            "sources.yml: source 'api': field 'walk.follow[0].communication.body': not a valid JMESPath",
        ),
        (
            {"shape": "json", "human_url": "url:/foi/{slug"},
            "sources.yml: source 'api': field 'walk.human_url': not a valid JMESPath expression",
        ),
    ],
)
def test_a_bad_json_walk_is_refused_in_one_line_naming_the_field(walk, message):
    with pytest.raises(ConfigError) as refused:
        parse_sources(source(walk), PATH, {})
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_shapes_take_their_defaults_and_any_key_given_replaces_one():
    [parsed] = parse_sources(source({"shape": "documentcloud", "title": "description"}), PATH, {})
    walk = parsed.walk.api
    assert (walk.title, walk.page_url, walk.budget, walk.listing.next_page) == (
        "description",
        "canonical_url",
        "documentcloud",
        "next",
    )
    muckrock = build_walk({"shape": "muckrock"}).api
    [communications] = muckrock.listing.follow
    assert communications.step.follow[0].each == "files"
    # Steps are named for the run's summary; communications are rows of their own.
    assert (muckrock.listing.name, communications.step.name) == ("requests", "communications")
    assert communications.step.communication.body == "communication"
    assert [f.step.name for f in communications.step.follow] == ["files", "files"]
    assert build_walk({"shape": "json"}).api.listing.name == "releases"


def test_a_communication_lists_its_files_or_is_asked_for_them():
    """MuckRock's default follows a `files` id list, or asks /api_v2/files/?communication=ID without one."""
    by_list, by_endpoint = build_walk({"shape": "muckrock"}).api.listing.follow[0].step.follow
    listed = {"id": 603, "files": [81, 82]}
    bare = {"id": 604}
    assert api.follows(listed, by_list.each) == [81, 82] and api.follows(listed, by_endpoint.each) == []
    assert api.follows(bare, by_list.each) == [] and api.follows(bare, by_endpoint.each) == [604]
    assert api.text("response && 'incoming' || 'outgoing'", {"response": True}) == "incoming"
    assert api.text("response && 'incoming' || 'outgoing'", {"response": False}) == "outgoing"


def test_templates_fill_each_part_and_keep_a_leading_base_url_as_it_is():
    document = {"id": 9, "slug": "a b", "asset_url": "https://s3.example/"}
    assert (
        api.url("url:{asset_url}documents/{id}/{slug}.pdf", document, "https://api.example/x")
        == "https://s3.example/documents/9/a%20b.pdf"
    )
    assert api.url("url:/files/{@}/", 81, "https://api.example/api_v2/x") == "https://api.example/files/81/"
    assert api.url("url:{asset_url}p{n}.txt", document, "https://x/", page=3) == "https://s3.example/p3.txt"
    with pytest.raises(ItemProblem, match=r"\{id\} in 'url:/r/\{id\}' has no value"):
        api.url("url:/r/{id}", {"title": "no id"}, "https://x/")


def test_page_counting_stops_at_an_empty_page_or_the_total():
    step = Step(items="requests", page_param="page_number", total="total_count")
    base = "https://city.example/client/requests?search_term=face&page_number=1"
    data = {"total_count": 5, "requests": [{}, {}]}
    assert (
        api.next_page(step, data, base, seen=2)
        == "https://city.example/client/requests?search_term=face&page_number=2"
    )
    assert api.next_page(step, data, base, seen=5) is None
    assert api.next_page(step, {"total_count": 5, "requests": []}, base, seen=2) is None
    with pytest.raises(ItemProblem, match="is a dict, not a list"):
        api.items(Step(items="requests"), {"requests": {"id": 1}})


def test_field_values_read_as_text():
    item = {"department_names": ["Police", "City Attorney"], "id": 51001, "done": None, "ok": True}
    assert api.text("department_names", item) == "Police, City Attorney"
    assert (api.text("id", item), api.text("done", item), api.text("ok", item)) == ("51001", None, "true")


def test_example_sources_declare_a_json_shape_each_with_the_depth_its_follows_need():
    from archive.sources.load import load_sources
    from tests.conftest import ROOT

    shapes = {}
    for parsed in load_sources(ROOT / "sources.example.yml"):
        if parsed.walk is not None and parsed.walk.api is not None:
            shapes[parsed.walk.shape] = parsed

    def levels(step) -> int:
        return 1 + max((levels(f.step) for f in step.follow), default=0) if step.follow else 0

    assert set(shapes) == {"muckrock", "documentcloud", "nextrequest"}
    for parsed in shapes.values():
        assert levels(parsed.walk.api.listing) <= parsed.scope.max_depth, parsed.name


def test_each_service_budget_is_one_download_slot_spaced_by_its_published_limit():
    from archive.config import Config
    from archive.records.budget import download_slots

    config = Config.load({"SPYGLASS_DOCUMENTCLOUD_PER_MINUTE": "60", "SPYGLASS_MUCKROCK_TOKEN": "t"})
    budget = ServiceBudget.from_config(config)
    assert download_slots(budget, "muckrock") == {
        "spyglass-muckrock": {"concurrency": 1, "delay": 4.0, "jitter": 0}
    }  # 15 a minute
    assert download_slots(budget, "documentcloud")["spyglass-documentcloud"]["delay"] == 1.0
    assert download_slots(budget, "nextrequest")["spyglass-nextrequest"]["delay"] == 2.0
    # Tokens come from the environment and stay out of the Scrapy settings (which Scrapy logs).
    assert config.service_tokens == {"muckrock": "t"}
    assert "t" not in config.as_settings().values() and "SPYGLASS_MUCKROCK_TOKEN" not in config.as_settings()


def test_a_step_is_empty_only_when_its_parents_were_walked_and_led_nowhere():
    from archive.records.findings import Findings

    listing = build_walk({"shape": "muckrock"}).api.listing
    [communications] = listing.follow
    unchanged = Findings()
    unchanged.listed(listing, 2, "https://mr.example/api_v2/requests/")
    assert unchanged.first_empty(listing) is None  # nothing walked further: a re-crawl, not a gap
    walked = Findings()
    walked.listed(listing, 2, "https://mr.example/api_v2/requests/")
    walked.expanded["requests"] += 2
    walked.asked(communications.step, "https://mr.example/api_v2/communications/?foia=1")
    assert walked.first_empty(listing) == (
        "2 requests led to no communications (tried https://mr.example/api_v2/communications/?foia=1)"
    )
    walked.listed(communications.step, 1, "https://mr.example/api_v2/communications/?foia=1")
    walked.expanded["communications"] += 1
    assert walked.first_empty(listing) == (
        "1 communications led to no files (tried https://mr.example/api_v2/communications/?foia=1)"
    )
    walked.files.add("https://mr.example/api_v2/files/81/")
    walked.listed(communications.step.follow[0].step, 1, "https://mr.example/api_v2/files/81/")
    assert walked.first_empty(listing) is None
    assert walked.summary(listing) == {"requests": 2, "releases": 0, "communications": 1, "files": 1}
