"""Generated OCR Giro and camt.054 files with valid control totals, for tests, the demo and the
benchmarks. Payments pay given targets (KID and amount), with a share of wrong KIDs (a valid
check digit, but no invoice has it), payments with only a message, and credit notes. Written
as a stream, so a million transactions stay flat in memory; deterministic by seed.

A credit note is written as each format carries one: in OCR Giro a transaction of its own with
the '-' sign (negative); in camt, where every amount is positive and a debit is money going
out, it is listed (`CREN` with its `CdtNoteAmt`) with the credit entry's payment it reduces:
the invoice's amount less the credit note, as in the ISO 20022 remittance examples."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TextIO
from xml.sax.saxutils import escape

from connectors.bank.kid import make_kid


@dataclass(frozen=True)
class Target:
    """An invoice to pay: its KID, amount, and who pays it."""

    kid: str | None
    amount_ore: int
    invoice_number: str | None = None
    payer_account: str | None = None
    payer_name: str | None = None


@dataclass(frozen=True)
class Planned:
    """One payment to write."""

    amount_ore: int
    kid: str | None
    message: str | None
    payer_account: str | None
    payer_name: str | None
    reference: str
    credit_note: bool = False
    invoice_ore: int = 0  # a credit note's invoice: camt pays it less the credit note


def plan_payments(
    targets: Iterable[Target],
    *,
    count: int,
    seed: int = 1,
    wrong_kid_share: float = 0.03,
    message_only_share: float = 0.03,
    credit_note_share: float = 0.0,
    partial_share: float = 0.1,
) -> Iterator[Planned]:
    """`count` payments cycling over `targets` (which may be a generator)."""
    rng = random.Random(seed)
    pool = list(targets) if not isinstance(targets, list) else targets
    if not pool:
        pool = [
            Target(make_kid(f"{n:09d}"), rng.randrange(10_000, 2_000_000)) for n in range(1, 1001)
        ]
    for n in range(count):
        t = pool[n % len(pool)]
        amount = t.amount_ore if rng.random() >= partial_share else max(100, t.amount_ore // 2)
        kid, message = t.kid, None
        roll = rng.random()
        if roll < wrong_kid_share:
            kid = make_kid(f"9{rng.randrange(10**10):010d}")
        elif roll < wrong_kid_share + message_only_share:
            kid, message = None, f"Faktura {t.invoice_number or n}"
        # A credit note takes half the invoice (the rest is paid with it, in camt).
        credit = rng.random() < credit_note_share and t.amount_ore >= 2
        yield Planned(
            -(t.amount_ore // 2) if credit else amount,
            kid,
            message,
            t.payer_account,
            t.payer_name,
            f"{700000000 + n:09d}",
            credit,
            t.amount_ore if credit else 0,
        )


def _ddmmyy(day: date) -> str:
    return day.strftime("%d%m%y")


def write_ocr(
    out: TextIO, payments: Iterable[Planned], *, on: date, payee_account: str = "12345678903"
) -> int:
    """Write one transmission with one assignment; returns the number of transactions."""
    d = _ddmmyy(on)
    out.write("NY000010" + "00008080" + "0170031" + "00010200" + "0" * 49 + "\n")
    out.write("NY090020" + "001008566" + "0000001" + payee_account + "0" * 45 + "\n")
    count = total = 0
    records = 1  # the assignment's records: its start (20) ... and its end (88)
    for n, p in enumerate(payments, 1):
        tx_type = "21" if p.kid is None else "10"
        sign = "-" if p.credit_note else "0"
        amount = abs(p.amount_ore)
        number = f"{n:07d}"
        kid = (p.kid or "").rjust(25)
        out.write(
            f"NY09{tx_type}30{number}{d}01{d[:2]}1{n % 100000:05d}{sign}{amount:017d}{kid}000000\n"
        )
        account = p.payer_account or "0" * 11
        out.write(
            f"NY09{tx_type}31{number}{'0' * 10}{p.reference}{'0' * 7}{d}{account}{'0' * 22}\n"
        )
        records += 2
        if tx_type == "21":
            out.write(f"NY09{tx_type}32{number}{(p.message or '')[:40].ljust(40)}{'0' * 25}\n")
            records += 1
        count += 1
        total += -amount if p.credit_note else amount  # credit notes count negative (spec)
    records += 1
    out.write(f"NY090088{count:08d}{records:08d}{total:017d}{d}{d}{d}{'0' * 21}\n")
    out.write(f"NY000089{count:08d}{records + 2:08d}{total:017d}{d}{'0' * 33}\n")
    return count


def _kr(ore: int) -> str:
    return str(Decimal(abs(ore)).scaleb(-2).quantize(Decimal("0.01")))


def _paid(p: Planned) -> int:
    """What a camt payment moves: a credit note's invoice less the credit note."""
    return p.invoice_ore + p.amount_ore if p.credit_note else p.amount_ore


def _remittance(p: Planned) -> str:
    """The payment's RmtInf: its KID (SCOR) or message, and a credit note listed with it."""
    if p.kid:
        invoice = f"<CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>{p.kid}</Ref></CdtrRefInf>"
        parts = [f"<Strd>{invoice}</Strd>"]
    else:
        parts = [f"<Ustrd>{escape(p.message or '')}</Ustrd>"]
    if p.credit_note:
        credited = (
            f'<RfrdDocAmt><CdtNoteAmt Ccy="NOK">{_kr(p.amount_ore)}</CdtNoteAmt></RfrdDocAmt>'
        )
        cren = f"<RfrdDocInf><Tp><CdOrPrtry><Cd>CREN</Cd></CdOrPrtry></Tp><Nb>K-{p.reference}</Nb></RfrdDocInf>"
        parts.append(f"<Strd>{cren}{credited}</Strd>")
    return f"<RmtInf>{''.join(parts)}</RmtInf>"


def write_camt054(
    out: TextIO,
    payments: Iterable[Planned],
    *,
    on: date,
    version: str = "02",
    account: str = "12345678903",
    per_entry: int = 100,
) -> int:
    """Write a camt.054 notification (entries of `per_entry` transactions); returns the count."""
    ns = f"urn:iso:std:iso:20022:tech:xsd:camt.054.001.{version}"
    v08 = int(version) >= 8
    out.write(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}"><BkToCstmrDbtCdtNtfctn>'
        f"<GrpHdr><MsgId>GEN-{on:%Y%m%d}</MsgId><CreDtTm>{on}T06:00:00</CreDtTm></GrpHdr><Ntfctn><Id>N1</Id>"
        f"<CreDtTm>{on}T06:00:00</CreDtTm><Acct><Id><Othr><Id>{account}</Id><SchmeNm><Cd>BBAN</Cd></SchmeNm></Othr>"
        "</Id><Ccy>NOK</Ccy></Acct>\n"
    )
    count = 0
    batch: list[Planned] = []

    def flush(entry_no: int) -> None:
        # One credit entry; a credit note rides on the payment it reduces (see the module).
        total = sum(_paid(p) for p in batch)
        sts = "<Sts><Cd>BOOK</Cd></Sts>" if v08 else "<Sts>BOOK</Sts>"
        out.write(
            f'<Ntry><NtryRef>{entry_no}</NtryRef><Amt Ccy="NOK">{_kr(total)}</Amt><CdtDbtInd>CRDT</CdtDbtInd>{sts}'
            f"<BookgDt><Dt>{on}</Dt></BookgDt><ValDt><Dt>{on}</Dt></ValDt><AcctSvcrRef>E{entry_no}</AcctSvcrRef>"
            f'<NtryDtls><Btch><NbOfTxs>{len(batch)}</NbOfTxs><TtlAmt Ccy="NOK">{_kr(total)}</TtlAmt></Btch>'
        )
        for p in batch:
            paid = _kr(_paid(p))
            amt = (
                f'<Amt Ccy="NOK">{paid}</Amt>'
                if v08
                else f'<AmtDtls><TxAmt><Amt Ccy="NOK">{paid}</Amt></TxAmt></AmtDtls>'
            )
            name = escape(p.payer_name or "Ukjent betaler")
            debtor = (
                f"<Dbtr><Pty><Nm>{name}</Nm></Pty></Dbtr>"
                if v08
                else f"<Dbtr><Nm>{name}</Nm></Dbtr>"
            )
            acct = (
                f"<DbtrAcct><Id><Othr><Id>{p.payer_account}</Id><SchmeNm><Cd>BBAN</Cd></SchmeNm></Othr></Id></DbtrAcct>"
                if p.payer_account
                else ""
            )
            out.write(
                f"<TxDtls><Refs><AcctSvcrRef>{p.reference}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>"
                f"{amt}<RltdPties>{debtor}{acct}</RltdPties>{_remittance(p)}</TxDtls>"
            )
        out.write("</NtryDtls></Ntry>\n")

    entry = 0
    for p in payments:
        batch.append(p)
        count += 1
        if len(batch) >= per_entry:
            entry += 1
            flush(entry)
            batch = []
    if batch:
        flush(entry + 1)
    out.write("</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n")
    return count


def write_file(
    path: Path, fmt: str, payments: Iterable[Planned], *, on: date, version: str = "02"
) -> int:
    """Write `payments` to `path` as an OCR or camt.054 file."""
    with path.open("w", encoding="latin-1" if fmt == "ocr" else "utf-8", newline="\n") as out:
        if fmt == "ocr":
            return write_ocr(out, payments, on=on)
        return write_camt054(out, payments, on=on, version=version)
