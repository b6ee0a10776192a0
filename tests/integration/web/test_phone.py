"""Every page fits a phone 390 px wide: measured in Chromium, the page never scrolls sideways."""

from __future__ import annotations

import pytest

from tests.integration.web.conftest import book_pages, sign_in_browser

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


def test_every_page_fits_390_px(book, base_url, browser) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    sign_in_browser(page, base_url, "ola@regnskap.no")
    cid = book.company_id
    too_wide = {}
    for path in [*book_pages(book), f"/c/{cid}/claims/999999", "/login"]:
        page.goto(f"{base_url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide[path] = width
    assert too_wide == {}
