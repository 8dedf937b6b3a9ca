"""A mention's highlight on a document page's image lies over the mention's words."""

from __future__ import annotations

import sqlite3

from PIL import Image

from archive.archive import Archive
from archive.publish import heavy, pageimage, reader

from .conftest import db_rows

# Where the demo's PDF writer (archive/demo/pdfgen.py) sets text: Helvetica 11 pt, 14 pt leading,
# the first baseline at (72, 740) on a 612 x 792 pt page.
LEFT, FIRST_BASELINE, LEADING, PAGE_WIDTH, PAGE_HEIGHT = 72, 740, 14, 612, 792


def test_the_highlight_box_lies_over_the_mentions_words_on_the_page_image(demo_archive):
    mention = db_rows(
        demo_archive,
        "SELECT m.document_id, m.term, m.page_number, p.text FROM mentions m JOIN documents d "
        "ON d.id = m.document_id JOIN document_pages p ON p.document_id = d.id AND p.page_number = "
        "m.page_number WHERE d.content_type = 'application/pdf' ORDER BY d.page_count DESC, d.id LIMIT 1",
    )[0]
    conn = sqlite3.connect(demo_archive / "spyglass.db")
    conn.row_factory = sqlite3.Row
    archive = Archive(demo_archive)
    document_id, terms = reader.mentioned_terms(conn, "documents", mention["document_id"])
    drawn = heavy.mention_boxes(str(demo_archive / "spyglass.db"), document_id, terms)
    shown = reader.document_page(conn, mention["document_id"], drawn)
    page = next(p for p in shown["pages"] if p["page_number"] == mention["page_number"])
    box = next(b for b in page["drawn"]["boxes"] if b.term == mention["term"])
    scale = pageimage.WIDTH / PAGE_WIDTH
    assert page["drawn"]["height"] == round(PAGE_HEIGHT * scale, 1)
    # The line the term is on, counted in the page's text, is where the writer drew it.
    line = next(i for i, text in enumerate(mention["text"].splitlines()) if mention["term"] in text)
    baseline = (PAGE_HEIGHT - FIRST_BASELINE + LEADING * line) * scale
    assert box.y < baseline < box.y + box.height < baseline + LEADING * scale
    if mention["text"].splitlines()[line].startswith(mention["term"]):
        assert abs(box.x - LEFT * scale) < 1
    # And the rendered image has ink inside the box, none in the margin left of the text column.
    image = Image.open(pageimage.page_image(archive, conn, mention["document_id"], mention["page_number"]))
    inside = image.convert("L").crop((box.x, box.y, box.x + box.width, box.y + box.height))
    margin = image.convert("L").crop((0, box.y, LEFT * scale - 4, box.y + box.height))
    assert inside.getextrema()[0] < 100 and margin.getextrema()[0] > 200
    conn.close()
