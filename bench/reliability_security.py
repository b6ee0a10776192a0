"""Security checks for `make reliability`, each generated from the running app or a real run:

- every endpoint without credentials is refused (the public ones are listed);
- a user of one company reaches nothing of another through any page or API route;
- webhook deliveries with a wrong or old signature (a replay) are refused, a repeated
  delivery is stored once;
- XML entity attacks (XXE, billion laughs) are refused by the camt.054 reader;
- the logs of a full demo run hold no token, password, national id or bank account number;
- issue 26's findings tried again (`bench/reliability_hardening.py`).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from stdnum.no import fodselsnummer, kontonr

from adapter.bootstrap import web_app
from adapter.clock import FixedClock, SystemClock
from adapter.crypto import SecretBox
from adapter.demo import CONSUMER, DEMO_PASSWORD, EMPLOYEE, KRAVIA_TOKEN
from adapter.domain import Customer, DebtorKind, Invoice, Money
from adapter.services import users
from adapter.settings import AppSettings
from adapter.store import migrate
from adapter.store.database import Database
from adapter.store.engine import make_engine
from adapter.store.tables import inbox
from adapter.web.routes import fill, protected_routes, public_routes
from bench import reliability_hardening as hardening
from connectors.bank.files import parse_or_error
from connectors.bank.transactions import BankFileError
from connectors.kravia import webhooks as kravia_webhooks

PASSWORD = "reliability-pass-1"
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn><Ntfctn>
<Ntry><Amt Ccy="NOK">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><AddtlNtryInf>&xxe;</AddtlNtryInf></Ntry>
</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"""
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">&lol9;</Document>'
)


def _database(folder: Path) -> Database:
    engine = make_engine(f"sqlite:///{folder}/security.db")
    migrate.upgrade(engine)
    return Database(
        engine=engine,
        clock=FixedClock(datetime(2026, 3, 20, 8, tzinfo=UTC)),
        box=SecretBox(Fernet.generate_key()),
    )


def _company(db: Database, name: str, org: str, email: str) -> dict[str, int]:
    """A company with a customer, an invoice, a webhook secret each and an admin."""
    with db.uow() as uow:
        company = uow.companies.add(name, org)
        uow.commit()
    assert company.id is not None
    with db.uow(company.id) as uow:
        customer = uow.customers.add(
            Customer(None, company.id, f"Kunde av {name}", DebtorKind.BUSINESS, customer_number="1")
        )
        assert customer.id is not None
        invoice = uow.invoices.add(
            Invoice(
                None,
                company.id,
                customer.id,
                "1",
                date(2026, 1, 1),
                date(2026, 1, 15),
                Money(100_000),
                Money(100_000),
            )
        )
        uow.connections.put("tripletex", {}, {"webhook_auth": "Bearer tx-secret"}, checked=True)
        uow.connections.put("kravia", {}, {"webhook_secret": "kr-secret"}, checked=True)
        uow.commit()
    users.add_user(
        db.uow(), email=email, name=name, password=PASSWORD, company_id=company.id, role="admin"
    )
    assert invoice.id is not None
    return {"company_id": company.id, "record_id": invoice.id}


def _basic(email: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{PASSWORD}".encode()).decode()}


def _url(path: str, ids: dict[str, int]) -> str:
    record = str(ids["record_id"])
    values = {"company_id": str(ids["company_id"]), "table": "jobs", "stage": "reminder_1"}
    values |= {"remote": "tripletex", "code": "en", "source": "tripletex"}
    values |= {k: record for k in ("invoice_id", "customer_id", "payment_id", "item_id")}
    return fill(path, values)


def access(client: TestClient, app: Any, a: dict[str, int], b: dict[str, int]) -> list[str]:
    """Unauthenticated and cross-tenant calls over the whole route table; returns failures."""
    failures = []
    for method, path in protected_routes(app):
        r = client.request(method, _url(path, a), follow_redirects=False)
        refused = r.status_code == 401 or (
            r.status_code == 303 and r.headers["location"] == "/login"
        )
        if not refused:
            failures.append(f"no credentials: {method} {path} -> {r.status_code}")
        if "{company_id}" in path:
            r = client.request(method, _url(path, b), headers=_basic("a@a.no"), json={})
            if r.status_code != 404:
                failures.append(f"cross-tenant: {method} {path} -> {r.status_code}")
    return failures


def replay(client: TestClient, company_id: int) -> dict[str, int]:
    """Webhook deliveries with wrong and old signatures; one replayed valid delivery."""
    statuses: Counter[str] = Counter()
    url = f"/webhooks/kravia/{company_id}"
    now = int(time.time())
    data = {"timestamp": now, "eventType": "claim.updated", "claimId": 1}
    good = json.dumps(kravia_webhooks.envelope("kr-secret", data)).encode()
    wrong = json.dumps(kravia_webhooks.envelope("not-the-secret", data)).encode()
    old = json.dumps(
        kravia_webhooks.envelope("kr-secret", {**data, "timestamp": now - 3600})
    ).encode()
    for name, body in (("wrong signature", wrong), ("old timestamp (replay)", old)):
        statuses[f"{name}: {client.post(url, content=body).status_code}"] += 1
    for _ in range(3):
        statuses[f"valid, sent 3 times: {client.post(url, content=good).status_code}"] += 1
    tx = f"/webhooks/tripletex/{company_id}"
    body = b'{"subscriptionId": 1, "event": "invoice.charged", "id": 1, "value": null}'
    statuses[
        f"tripletex wrong header: {client.post(tx, content=body, headers={'Authorization': 'Bearer guess'}).status_code}"
    ] += 1
    return dict(statuses)


def demo_logs() -> tuple[int, list[str]]:
    """Run a small demo and scan its log for secrets; returns (lines, findings)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "KRAVFLYT_DATABASE_URL": f"sqlite:///{tmp}/demo.db",
            "KRAVFLYT_LOG_LEVEL": "DEBUG",
        }
        env["KRAVFLYT_KEY_FILE"] = f"{tmp}/k.key"
        log_file = Path(tmp) / "demo.log"
        subprocess.run(
            [
                str(Path(sys.executable).with_name("kravflyt")),
                "demo",
                "--fresh",
                "--customers",
                "200",
                "--invoices",
                "1000",
                "--log-file",
                str(log_file),
            ],
            cwd=tmp,
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
        text = log_file.read_text()
    findings = [
        f"secret {s[:6]}..." for s in (CONSUMER, EMPLOYEE, KRAVIA_TOKEN, DEMO_PASSWORD) if s in text
    ]
    for number in set(re.findall(r"(?<!\d)\d{11}(?!\d)", text)):
        if fodselsnummer.is_valid(number):
            findings.append(f"national id {number[:2]}...")
        elif kontonr.is_valid(number):
            findings.append(f"account number {number[:4]}...")
    findings += [
        "Authorization value" for _ in re.findall(r"(Basic|Bearer) [A-Za-z0-9+/=_-]{8,}", text)
    ]
    return text.count("\n"), findings


def main() -> str:
    """Run every check and return the report."""
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = _database(Path(tmp))
        a = _company(db, "A AS", "923609016", "a@a.no")
        b = _company(db, "B AS", "974760673", "b@b.no")
        app = web_app(db, AppSettings())
        with TestClient(app) as client:
            failures = access(client, app, a, b)
            protected = protected_routes(app)
            cross = sum(1 for _m, p in protected if "{company_id}" in p)
            rows.append(
                (
                    "routes refused without credentials",
                    f"{len(protected)} routes",
                    "all" if not any(f.startswith("no cred") for f in failures) else "FAILED",
                )
            )
            rows.append(
                (
                    "another company's routes (by API credentials)",
                    f"{cross} routes",
                    "all 404" if not any(f.startswith("cross") for f in failures) else "FAILED",
                )
            )
            public = ", ".join(f"{m} {p}" for m, p in public_routes(app))
            rows.append(("public endpoints", public, "by design"))
            replays = replay(client, a["company_id"])
            with db.engine.connect() as conn:
                stored = conn.execute(select(func.count()).select_from(inbox)).scalar_one()
            ok = (
                replays.get("wrong signature: 401")
                and replays.get("old timestamp (replay): 401")
                and stored == 1
            )
            rows.append(
                (
                    "webhook replay and forgery",
                    "; ".join(f"{k} x{v}" for k, v in replays.items()) + f"; stored {stored}",
                    "refused" if ok else "FAILED",
                )
            )
        db.engine.dispose()
    xml = {
        name: parse_or_error(data, name, today=SystemClock().today())
        for name, data in (("XXE", XXE), ("billion laughs", LAUGHS))
    }
    rows.append(
        (
            "XML entity attacks",
            "; ".join(f"{k}: {v}" for k, v in xml.items()),
            "refused" if all(isinstance(v, BankFileError) for v in xml.values()) else "FAILED",
        )
    )
    lines, findings = demo_logs()
    rows.append(
        (
            "secrets in the logs of a demo run",
            f"{lines} log lines scanned",
            "none" if not findings else "FOUND: " + ", ".join(findings[:5]),
        )
    )
    for f in failures[:10]:
        rows.append(("failure", f, ""))
    out = ["| check | what | result |", "|---|---|---|"] + [
        f"| {a_} | {b_} | {c} |" for a_, b_, c in rows
    ]
    return "\n".join([*out, hardening.main()])


if __name__ == "__main__":
    print(main())
