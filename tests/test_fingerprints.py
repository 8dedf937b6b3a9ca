"""The crawl's compact seen-sets: a set of strings by fingerprint answers as a set of the strings would."""

from archive.crawl.fingerprints import NEWEST, Fingerprints


def test_membership_through_merges():
    urls = [f"https://vendor.example/p/{i}.html" for i in range(NEWEST * 12)]
    seen = Fingerprints()
    assert not seen and "https://vendor.example/" not in seen
    for count, url in enumerate(urls, 1):
        assert url not in seen
        seen.add(url)
        seen.add(url)  # again: nothing changes
        assert url in seen and len(seen) == count
    # Merged into the sorted array many times over: every one still there, none other.
    assert len(seen._sorted) > NEWEST * 10
    assert all(url in seen for url in urls)
    assert not any(f"{url}?again" in seen for url in urls)


def test_a_string_equal_to_one_added_is_in_it():
    seen = Fingerprints()
    seen.add("".join(["https://", "vendor.example/a"]))
    assert "https://vendor.example/a" in seen
