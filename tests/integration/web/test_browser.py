"""The pages in a real browser (Debian's Chromium through Playwright): sign in, read the
overview, hand off a debtor with the required check box, on a laptop and a phone screen.

Set KRAVFLYT_SCREENSHOTS=docs/screenshots to refresh the pictures in the README."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from adapter.store.tables import handoff_cases
from tests.integration.web.conftest import sign_in_browser

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


def _shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("KRAVFLYT_SCREENSHOTS") or tmp_path)


def test_accountant_hands_off_a_debtor_in_the_browser(
    db, book, base_url, browser, tmp_path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in_browser(page, base_url, "kari@regnskap.no")
    expect(page.get_by_test_id("outstanding")).to_have_text("4\u00a0050,50\u00a0kr")
    expect(page.locator("svg.aging rect")).to_have_count(5)
    page.screenshot(path=str(_shots(tmp_path) / "overview.png"), full_page=True)

    page.get_by_role("link", name="Inkasso").first.click()
    bundle = page.get_by_test_id("bundle")
    expect(bundle).to_contain_text("Fjord Bygg AS")
    # principal 3 250,50 + interest at 12 %: 501 5 000,00 x 46 d and 2 000,00 x 18 d = 87,45,
    # 502 1 250,50 x 64 d = 26,31
    expect(page.get_by_test_id("bundle-total")).to_contain_text("3\u00a0364,26")
    page.get_by_label("Velg Fjord Bygg AS").check()
    page.get_by_role("button", name="Send de valgte til inkasso").click()  # the box is not ticked
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(handoff_cases)).scalar() == 0
    page.screenshot(path=str(_shots(tmp_path) / "handoff.png"), full_page=True)
    page.get_by_label("Velg Fjord Bygg AS").check()
    page.get_by_label("Kravet er ikke omtvistet").check()
    page.get_by_role("button", name="Send de valgte til inkasso").click()
    expect(page.get_by_role("status")).to_contain_text("venter på at den sendes til inkassobyrået")
    expect(page.get_by_test_id("case")).to_have_count(1)
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(handoff_cases)).scalar() == 1

    page.goto(f"{base_url}/c/{book.company_id}/claims/501")
    expect(page.get_by_test_id("event").first).to_contain_text("Faktura 501")
    page.screenshot(path=str(_shots(tmp_path) / "claim.png"), full_page=True)


def test_the_pages_fit_a_phone_screen(book, base_url, browser, tmp_path) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    sign_in_browser(page, base_url, "kari@regnskap.no")
    expect(page.get_by_test_id("overdue")).to_have_text("3\u00a0250,50\u00a0kr")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the overview scrolls sideways on a phone ({width} px)"
    page.screenshot(path=str(_shots(tmp_path) / "overview-phone.png"), full_page=True)
    page.goto(f"{base_url}/c/{book.company_id}/worklist")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_match_a_payment_and_see_a_refused_setting_in_the_browser(
    db, book, base_url, browser, tmp_path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in_browser(page, base_url, "ola@regnskap.no")
    page.goto(f"{base_url}/c/{book.company_id}/claims/502")
    reasons = page.get_by_test_id("decision").first
    expect(reasons).to_contain_text("Klar for inkasso")
    expect(reasons).to_contain_text("kravet er ikke omtvistet")

    page.get_by_role("link", name="Innbetalinger").first.click()
    payment = page.get_by_test_id("payment")
    expect(payment).to_contain_text("faktura 502")
    page.screenshot(path=str(_shots(tmp_path) / "payments.png"), full_page=True)
    page.get_by_role("button", name="Koble 502").click()
    expect(page.get_by_role("status")).to_contain_text("er koblet til faktura 502")
    expect(page.get_by_test_id("payment")).to_have_count(0)

    page.goto(f"{base_url}/c/{book.company_id}/settings")
    page.get_by_label("Gebyr på purring 1").fill("500,00")
    page.get_by_role("button", name="Lagre").first.click()
    error = page.get_by_test_id("field-error")
    expect(error).to_contain_text("høyst 38,00\u00a0kr")
    expect(page.get_by_label("Gebyr på purring 1")).to_have_value("500,00")
    page.screenshot(path=str(_shots(tmp_path) / "settings-error.png"), full_page=True)
