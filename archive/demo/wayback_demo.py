"""Years of Wayback history for the demo vendor site, and the Rekognition page letters cite.

The Northwind pages change wording, gain a "person tracking" claim in 2018 and
lose it again in 2020; some snapshots are byte-identical, some CDX rows are
duplicates or revisits, and the old product address is an archived redirect.
In 2019 the site added a call to action to every page (the live site still
has it): site-wide boilerplate, which history must never count as a change.
"""

from __future__ import annotations

import html

from archive.demo.vendor_site import CTA
from archive.demo.wayback_sim import Memento, WaybackSim

REKOGNITION_URL = "https://aws.amazon.com/rekognition/"
REKOGNITION_TIMESTAMP = "20180225100337"


def page(title: str, main: str, cta: bool = False) -> bytes:
    """A whole archived HTML page around `main` (with the site's call to action from 2019 on)."""
    if cta:
        main += CTA
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{html.escape(title)}</title></head>\n<body><header><a href="/">Northwind Cloud</a></header>'
        f"<main>{main}</main><footer><p>Copyright Northwind Cloud Services, Inc.</p></footer></body></html>\n"
    ).encode()


PRODUCT_2016 = page(
    "Northwind Recognize: image analysis",
    """
<h1>Northwind Recognize</h1>
<p>Deep-learning image analysis: detect objects, scenes and faces in your photos.</p>""",
)
PRODUCT_2017 = page(
    "Northwind Recognize: image and video analysis",
    """
<h1>Northwind Recognize</h1>
<p>Detect objects, scenes, text and faces, and search a face against collections
holding tens of millions of faces in real time.</p>""",
)
PRODUCT_2018_MAIN = """
<h1>Northwind Recognize</h1>
<p>Detect objects, scenes, text and faces, and search a face against collections
holding tens of millions of faces in real time.</p>
<h2>Built for public safety</h2>
<p>Person tracking lets agencies follow persons of interest from a street camera
or a body camera, and identify all faces in crowded events and public places.</p>"""
PRODUCT_2018 = page("Northwind Recognize: image and video analysis", PRODUCT_2018_MAIN)
PRODUCT_2019 = page("Northwind Recognize: image and video analysis", PRODUCT_2018_MAIN, cta=True)
PRODUCT_2020 = page(
    "Northwind Recognize: image and video analysis",
    """
<h1>Northwind Recognize</h1>
<p>Detect objects, scenes, text and faces in images and video.</p>
<p>We have paused sales of face search to police departments.</p>""",
    cta=True,
)

FAQ_2017 = page(
    "Northwind Recognize FAQs",
    """
<h1>Frequently asked questions</h1>
<h2>Q: What is face search?</h2><p>Face search compares a face with a collection you own.</p>""",
)
FAQ_2018_MAIN = """
<h1>Frequently asked questions</h1>
<h2>Q: What is face search?</h2><p>Face search compares a face with a collection you own.</p>
<h2>Q: What is person tracking?</h2><p>Person tracking follows each individual through a
video, which is why surveillance customers use it to monitor the movements of individuals.</p>"""
FAQ_2018 = page("Northwind Recognize FAQs", FAQ_2018_MAIN)
FAQ_2019 = page("Northwind Recognize FAQs", FAQ_2018_MAIN, cta=True)
FAQ_2020 = page(
    "Northwind Recognize FAQs",
    """
<h1>Frequently asked questions</h1>
<h2>Q: What is face search?</h2><p>Face search compares a face with a collection you own.</p>
<h2>Q: Who may use it?</h2><p>Face search is not offered to police departments.</p>""",
    cta=True,
)

REKOGNITION_2018 = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    "<title>Amazon Rekognition – Video and Image - AWS</title></head><body><main>"
    "<h1>Amazon Rekognition</h1><p>Deep learning-based image and video analysis.</p>"
    "<h2>Real-time face recognition</h2><p>Rekognition can identify all faces in crowded "
    "events and public places such as airports, and search them against collections of "
    "tens of millions of faces in real time.</p><h2>Person tracking</h2><p>Track people "
    "through a video, even when their faces are not visible, for public safety and "
    "surveillance applications.</p></main></body></html>\n"
).encode()


def demo_mementos(vendor_base: str) -> list[Memento]:
    """The demo's archived history of the fixture vendor site at `vendor_base`."""
    product = f"{vendor_base}/products/recognize/"
    faqs = f"{vendor_base}/products/recognize/faqs/"
    html_type = [("Content-Type", "text/html; charset=utf-8"), ("Server", "NorthwindWeb/1.0")]
    return [
        Memento(product, "20161201093000", PRODUCT_2016, headers=html_type),
        # Byte-identical to the one before: a second CDX row, no new version.
        Memento(product, "20170301120000", PRODUCT_2016, headers=html_type),
        Memento(product, "20171122080000", PRODUCT_2017, headers=html_type, duplicates=1),
        Memento(product, "20180102080000", PRODUCT_2017, headers=html_type, revisit=True),
        Memento(product, "20180601101500", PRODUCT_2018, headers=html_type),
        Memento(product, "20190315000000", PRODUCT_2018, headers=html_type),
        # The same text with the site-wide call to action: boilerplate, no change.
        Memento(product, "20190901000000", PRODUCT_2019, headers=html_type),
        Memento(product, "20200610160000", PRODUCT_2020, headers=html_type),
        Memento(faqs, "20170615000000", FAQ_2017, headers=html_type),
        Memento(faqs, "20180720000000", FAQ_2018, headers=html_type),
        Memento(faqs, "20191010000000", FAQ_2019, headers=html_type),
        Memento(faqs, "20200701000000", FAQ_2020, headers=html_type),
        Memento(
            f"{vendor_base}/sitemap.xml",
            "20180801000000",
            f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{product}</loc></url><url><loc>{faqs}</loc></url></urlset>\n".encode(),
            mimetype="application/xml",
            headers=[("Content-Type", "application/xml")],
        ),
        # The old address, archived as the redirect it was (a path-only Location).
        Memento(
            f"{vendor_base}/products/recognise/",
            "20170101000000",
            b"",
            status=301,
            headers=[("Location", "/products/recognize/"), ("Content-Type", "text/html")],
        ),
    ]


def rekognition_memento() -> Memento:
    """The snapshot civil-liberties letters cite (the citation tests use it)."""
    return Memento(
        REKOGNITION_URL,
        REKOGNITION_TIMESTAMP,
        REKOGNITION_2018,
        headers=[("Content-Type", "text/html;charset=UTF-8"), ("Server", "Server")],
    )


def demo_sim(vendor_base: str) -> WaybackSim:
    """A simulator holding the demo history and the Rekognition memento."""
    sim = WaybackSim()
    sim.add(*demo_mementos(vendor_base), rekognition_memento())
    return sim
