"""Screenshots of every main page at 1280 and 390 px from the demo's data, made the same way
each time, and the pages read for code names and English on the way.

    .venv/bin/python -m tests.screenshots --out docs/screenshots

It runs `kravflyt demo` (120 customers, 600 invoices, 12 weeks: about a minute) into a
temporary folder, adds what a morning's work would show (`enrich`: five invoices 3 to 5
weeks overdue, four payments the bank could not match, one ignored with its reason), serves
the pages in this process with the clock standing half an hour after the demo's worker
finished its last job, signs in as the demo user with Debian's Chromium, and writes
`<page>.png` (1280 px) and `<page>-phone.png` (390 px) for each page. A page taller than
`MAX_HEIGHT` is cut there (the worklist of a big ledger is thousands of pixels). Each page is
also measured (it must not scroll sideways at 390 px) and read like the words test
(tests/integration/web/test_words.py): what it finds is printed, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select

from adapter.bootstrap import web_app
from adapter.clock import FixedClock
from adapter.demo import DEMO_PASSWORD, DEMO_USER
from adapter.domain import Invoice, MatchStatus, Money, Payment
from adapter.services import payments as payment_work
from adapter.settings import AppSettings
from adapter.store.database import Database, open_database
from adapter.store.repositories.worker_seen import WorkerSeenRepository
from adapter.store.tables import claims, customers, invoices, letters
from connectors.serving import serve_in_thread
from tests.integration.web.test_words import ABBREVIATIONS, CODE, EMAIL, ENGLISH, visible

CHROMIUM = "/usr/bin/chromium"
WIDTHS = {"": 1280, "-phone": 390}
MAX_HEIGHT = 2400
WEEKS = 12


def run_demo(folder: Path, env: dict[str, str], customers_n: int, invoices_n: int) -> None:
    """`kravflyt demo` into `folder` (its own process, as a person runs it)."""
    kravflyt = Path(sys.executable).parent / "kravflyt"
    done = subprocess.run(
        [
            str(kravflyt),
            "demo",
            "--fresh",
            "--customers",
            str(customers_n),
            "--invoices",
            str(invoices_n),
            "--weeks",
            str(WEEKS),
            "--log-file",
            str(folder / "demo.log"),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"kravflyt demo failed:\n{done.stderr[-3000:]}")


def last_work(db_url: str) -> datetime:
    """When the demo's worker last finished a job or made a send."""
    db = open_database(AppSettings(database_url=db_url))
    with db.uow(read_only=True) as uow:
        last = WorkerSeenRepository(uow.conn, uow.clock).last_finished()
    db.engine.dispose()
    assert last is not None, "the demo's worker did nothing"
    return last


def enrich(db: Database) -> None:
    """A morning's work on top of the demo: invoices of customers with nothing open, 3 to 5
    weeks overdue and never reminded (tonight's letters), and payments the bank could not
    match: a wrong KID with the invoice number in the message, one from a customer's account
    with neither KID nor message, one with only its amount to go by, and one ignored."""
    today = db.clock.today()
    with db.uow(1) as uow:
        busy = select(invoices.c.customer_id).join(claims, claims.c.invoice_id == invoices.c.id)
        free = uow.conn.execute(
            select(customers.c.id, customers.c.name)
            .where(
                customers.c.company_id == 1,
                customers.c.id.not_in(busy.where(claims.c.status != "closed")),
            )
            .order_by(customers.c.id)
            .limit(5)
        ).all()
        for n, (customer, amount, weeks) in enumerate(
            zip(
                free,
                (1_250_050, 349_000, 87_500, 2_190_000, 560_000),
                (3, 4, 5, 3, 4),
                strict=False,
            )
        ):
            uow.invoices.add(
                Invoice(
                    None,
                    1,
                    customer.id,
                    f"9000{n + 1}",
                    today - timedelta(weeks=weeks + 2),
                    today - timedelta(weeks=weeks),
                    Money(amount),
                    Money(amount),
                    external_id=f"shots-{n + 1}",
                )
            )
        uow.customers.set_fields(free[1].id, bank_account="15038812345")
        waiting = (
            ("shots:1", 1_250_050, "99999999", "faktura 90001", None, "wrong_kid"),
            ("shots:2", 300_000, None, None, "15038812345", "missing_kid"),
            ("shots:3", 87_500, None, None, None, "missing_kid"),
            ("shots:4", 12_300, None, "retur fra leverandør", None, "message"),
        )
        ids = [
            uow.payments.add(
                Payment(
                    None,
                    1,
                    key,
                    "ocr",
                    Money(amount),
                    today - timedelta(days=1),
                    kid=kid,
                    message=message,
                    payer_account=account,
                    payer_name=free[1].name.upper() if account else "ANDERSEN ÅSE",
                    status=MatchStatus.UNMATCHED,
                    unmatched_reason=reason,
                )
            )
            for key, amount, kid, message, account, reason in waiting
        ]
        uow.commit()
    assert ids[-1] is not None
    payment_work.ignore(db.uow(1), ids[-1], "returnert av banken", actor="web:demo@kravflyt.no")


def pages(db_url: str) -> dict[str, str]:
    """The main pages of the demo company, by the picture's name: a claim at the agency, one
    with letters, and its customer picked from the data."""
    db = open_database(AppSettings(database_url=db_url))
    with db.engine.connect() as conn:
        agency = conn.execute(
            select(invoices.c.number)
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .where(claims.c.status == "handed_off")
            .order_by(invoices.c.id)
            .limit(1)
        ).scalar_one_or_none()
        lettered = conn.execute(
            select(invoices.c.number, invoices.c.customer_id, customers.c.name)
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .join(letters, letters.c.claim_id == claims.c.id)
            .join(customers, customers.c.id == invoices.c.customer_id)
            .where(claims.c.status == "open")
            .order_by(letters.c.id.desc())
            .limit(1)
        ).one()
    db.engine.dispose()
    c = "/c/1"
    found = {
        "overview": f"{c}/",
        "worklist": f"{c}/worklist",
        "claims": f"{c}/claims",
        "payments": f"{c}/payments",
        "tonight": f"{c}/letters/tonight",
        "handoff": f"{c}/handoff",
        "claim": f"{c}/claims/{lettered.number}",
        "customer": f"{c}/customers/{lettered.customer_id}",
        "search": f"{c}/search?q={lettered.name.split()[0]}",
        "settings": f"{c}/settings",
        "audit": f"{c}/audit",
    }
    if agency:
        found["claim-agency"] = f"{c}/claims/{agency}"
    return found


def words(html: str) -> list[str]:
    """Code names and English a person would read on the page (the words test's reading)."""
    text = EMAIL.sub("", visible(html))
    bad = {m.group(0) for m in CODE.finditer(text)} | {
        m.group(0).lower() for m in ENGLISH.finditer(text)
    }
    return sorted(b for b in bad if b not in ABBREVIATIONS)


def shoot(page: Page, url: str, path: Path) -> int:
    """Open `url`, save the picture (cut at MAX_HEIGHT); returns the page's width."""
    page.goto(url)
    height = min(int(page.evaluate("document.documentElement.scrollHeight")), MAX_HEIGHT)
    width = int(page.evaluate("document.documentElement.scrollWidth"))
    page.screenshot(
        path=str(path),
        full_page=True,
        clip={"x": 0, "y": 0, "width": page.viewport_size["width"], "height": height},
    )
    return width


def main() -> int:
    """Make the pictures; returns 1 when a page shows a code name or English, or scrolls
    sideways on a phone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--customers", type=int, default=120)
    parser.add_argument("--invoices", type=int, default=600)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kravflyt-shots-") as tmp:
        folder = Path(tmp)
        db_url = f"sqlite:///{folder}/demo.db"
        os.environ.update(
            {"KRAVFLYT_DATABASE_URL": db_url, "KRAVFLYT_KEY_FILE": str(folder / "k.key")}
        )
        run_demo(folder, dict(os.environ), args.customers, args.invoices)
        # half an hour after the demo's worker stopped: the same pictures every time
        clock = FixedClock(last_work(db_url) + timedelta(minutes=30))
        settings = AppSettings(database_url=db_url)
        db = open_database(settings, clock=clock)
        enrich(db)
        shown = pages(db_url)
        served = serve_in_thread(web_app(db, settings))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
                )
                for suffix, width in WIDTHS.items():
                    page = browser.new_page(
                        viewport={"width": width, "height": 900}, is_mobile=width < 600
                    )
                    page.goto(f"{served.url}/login")
                    page.get_by_label("E-post").fill(DEMO_USER)
                    page.get_by_label("Passord").fill(DEMO_PASSWORD)
                    page.get_by_role("button", name="Logg inn").click()
                    page.wait_for_url(f"{served.url}/c/**")
                    for name, url in shown.items():
                        measured = shoot(page, served.url + url, args.out / f"{name}{suffix}.png")
                        if measured > width:
                            problems.append(f"{url}: {measured} px wide at {width} px")
                        if not suffix:
                            found = words(page.content())
                            if found:
                                problems.append(f"{url}: {', '.join(found)}")
                    page.close()
                browser.close()
        finally:
            served.stop()
            db.engine.dispose()
    print(f"{len(shown) * len(WIDTHS)} pictures in {args.out}")
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
