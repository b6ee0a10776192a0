"""camt.054 (ISO 20022 bank-to-customer debit/credit notification) and camt.053 (account
statement), versions .001.02 to .001.08: the incoming payments in them.

A streaming reader: the namespace is read from the file, each `Ntry` is handled when it ends
and then cleared, so memory stays flat. One transaction per `TxDtls` (or per `Ntry` when it has
no details). The XML is parsed safely (defusedxml): no DTD, no entity expansion, no network.
Checked for each booked credit entry: amounts (refused when they have fractions of an øre),
dates, that the entry amount equals the sum of its transactions, and the batch counts and
totals where present. Skipped and counted, whatever they lack: debit entries (outgoing
payments), entries not booked yet, and a statement's batch entries that do not list their
payments (the OCR or camt.054 file does). A camt.052 (intraday report) is refused by name.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from connectors.bank.transactions import BankFileError, BankTransaction, Reference

_NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:(camt\.05[0-9])\.001\.(\d\d)$")
_READ = {"camt.053": "camt053", "camt.054": "camt054"}
_VERSIONS = {f"0{n}" for n in range(2, 9)}
READS = "Kravflyt reads OCR Giro, camt.054 (credit notifications) and camt.053 (account statements)"
# What a refused ISO 20022 document is, in words a person knows from their bank.
_KNOWN = {
    "camt.052": "a camt.052 account report (intraday: entries may still change)",
    "camt.060": "a camt.060 account reporting request",
    "camt.086": "a camt.086 bank services billing statement",
}
_AMOUNT = re.compile(r"\d{1,18}(\.\d{1,5})?")
_RF = re.compile(r"^RF\d{2}[0-9A-Z]{1,21}$")
_QRR_TABLE = (0, 9, 4, 6, 8, 2, 7, 1, 3, 5)  # Swiss QR reference: MOD10 recursive


def rf_valid(ref: str) -> bool:
    """Whether an ISO 11649 creditor reference ("RF18 5390 0754 7034") has a valid check."""
    ref = ref.replace(" ", "").upper()
    if not _RF.match(ref):
        return False
    moved = ref[4:] + ref[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def qrr_valid(ref: str) -> bool:
    """Whether a Swiss QR reference (27 digits, MOD10 recursive check digit) is valid."""
    ref = ref.replace(" ", "")
    if len(ref) != 27 or not (ref.isascii() and ref.isdigit()):
        return False
    carry = 0
    for digit in ref[:-1]:
        carry = _QRR_TABLE[(carry + int(digit)) % 10]
    return (10 - carry) % 10 == int(ref[-1])


def classify(ref: str, proprietary: str | None) -> Reference:
    """A creditor reference's kind: QRR, RF (check verified), KID (2-25 digits) or other."""
    compact = ref.replace(" ", "")
    if (proprietary or "").strip().upper() == "QRR" or qrr_valid(compact):
        return Reference("QRR", compact)
    if compact.upper().startswith("RF") and rf_valid(compact):
        return Reference("RF", compact.upper())
    if compact.isascii() and compact.isdigit() and 2 <= len(compact) <= 25:
        return Reference("KID", compact)
    return Reference("other", ref)


def refuse_namespace(uri: str) -> str:
    """Why a document with this namespace is not read, naming what it is."""
    match = _NAMESPACE.match(uri)
    if match and match.group(1) in _READ:
        return f"{match.group(1)}.001.{match.group(2)} is not a version read (.02 to .08); {READS}"
    kind = match.group(1) if match else None
    what = _KNOWN.get(kind or "") or (
        f"a {kind} message" if kind else f"an XML document of namespace {uri or 'none'!r}"
    )
    if "pain." in uri:
        version = uri.rsplit(":", 1)[-1]
        what = (
            f"a payment status report ({version}), about payment orders sent to the bank"
            if version.startswith("pain.002")
            else f"a payment order ({version}), which goes to the bank, not from it"
        )
    return f"this is {what}, not a list of payments received; {READS}"


class _Paths(dict[str, str]):
    """Paths like "c:A/c:B" in Clark notation ("{uri}A/{uri}B") for the file's namespace,
    made once: ElementTree then finds them without a prefix map on every call (with the map
    the reader took 2.4x a bare iterparse loop; see bench/bank_parsers.py)."""

    def __init__(self, uri: str):
        super().__init__()
        self.prefix = "{" + uri + "}"
        self._steps: dict[str, list[str]] = {}

    def __missing__(self, path: str) -> str:
        value = self[path] = path.replace("c:", self.prefix)
        return value

    def steps(self, path: str) -> list[str]:
        """A path's tags, one per step: each step is then one C-level `find`, where a path
        with "/" would go through ElementPath in Python (most of the reader's own time)."""
        found = self._steps.get(path)
        if found is None:
            found = self._steps[path] = self[path].split("/")
        return found

    def first(self, el: Element, path: str) -> Element | None:
        """The first element at `path` below `el`, or None."""
        for tag in self.steps(path):
            child = el.find(tag)
            if child is None:
                return None
            el = child
        return el

    def text(self, el: Element, path: str, default: str | None) -> str | None:
        """`Element.findtext` for `path`."""
        found = self.first(el, path)
        return default if found is None else (found.text or "")

    def each(self, el: Element, path: str) -> list[Element]:
        """Every element at `path` below `el`, in document order."""
        *parents, last = self.steps(path)
        nodes = [el]
        for tag in parents:
            nodes = [child for node in nodes for child in node.findall(tag)]
        return [child for node in nodes for child in node.findall(last)]


def _reverses(ntry: Element, p: _Paths) -> bool:
    return ntry.findtext(p["c:RvslInd"], "").strip().lower() == "true"


class CamtReader:
    """Iterate over a camt.054 or camt.053 file's incoming payments; afterwards `control` holds
    the checked totals, `skipped` what was skipped and why, and `format` camt054 or camt053."""

    def __init__(self, source: str | IO[bytes], name: str = "camt file"):
        self.source, self.name = source, name
        self.control: dict[str, Any] = {}
        self.skipped: Counter[str] = Counter()
        self.format = "camt054"

    def _fail(self, where: str, field: str, message: str) -> BankFileError:
        return BankFileError(self.name, where, field, message)

    def _amount(self, el: Element | None, where: str, field: str) -> tuple[int, str]:
        if el is None or not (el.text or "").strip():
            raise self._fail(where, field, "missing")
        text = el.text.strip()  # type: ignore[union-attr]
        # ISO 20022 amounts are plain decimals (at most 18 digits): anything else, NaN and
        # 1e999999 included, is refused before Decimal arithmetic sees it.
        if not _AMOUNT.fullmatch(text):
            raise self._fail(where, field, f"{text[:40]!r} is not an amount")
        value = Decimal(text)
        ore = value * 100
        if ore != ore.to_integral_value():
            raise self._fail(where, field, f"{text} has fractions of an øre")
        return int(ore), el.get("Ccy") or "NOK"

    def _date(self, parent: Element, path: str, p: _Paths, where: str, field: str) -> date | None:
        text = (
            p.text(parent, f"{path}/c:Dt", None)
            or (p.text(parent, f"{path}/c:DtTm", None) or "")[:10]
        )
        if not text:
            return None
        try:
            return date.fromisoformat(text.strip())
        except ValueError as exc:
            raise self._fail(where, field, f"{text!r} is not a date (YYYY-MM-DD)") from exc

    def __iter__(self) -> Iterator[BankTransaction]:
        p: _Paths | None = None
        entries = txs = total = 0
        skipped = self.skipped
        try:
            # End events only (start events too would double the parser's work): the first
            # element closed, whichever it is, carries the document's namespace.
            for _event, el in iterparse(self.source, events=("end",), forbid_dtd=True):
                if p is None:
                    uri = el.tag[1:].split("}")[0] if el.tag.startswith("{") else ""
                    match = _NAMESPACE.match(uri)
                    if not match or match.group(1) not in _READ or match.group(2) not in _VERSIONS:
                        raise self._fail("root", "namespace", refuse_namespace(uri))
                    p = _Paths(uri)
                    ntry_tag = p["c:Ntry"]
                    self.format = _READ[match.group(1)]
                    self.control["version"] = f"{match.group(1)}.001.{match.group(2)}"
                    continue
                if el.tag != ntry_tag:
                    continue
                entries += 1
                why = self._skip(el, p)
                if why:
                    skipped[why] += 1
                    el.clear()
                    continue
                for tx in self._entry(el, entries, p):
                    txs += 1
                    total += tx.amount_ore
                    yield tx
                el.clear()
        except (ParseError, DefusedXmlException, LookupError, ValueError) as exc:
            # LookupError/ValueError: an unknown or multi-byte encoding named in the XML
            # declaration (BankFileError itself is a ValueError too: passed on as it is).
            if isinstance(exc, BankFileError):
                raise
            raise self._fail("XML", "document", f"refused: {type(exc).__name__}: {exc}") from exc
        if p is None:
            raise self._fail("root", "document", "empty file")
        self.control.update(
            {
                "entries": entries,
                "transactions": txs,
                "total_ore": total,
                "skipped_not_booked": skipped["not_booked"],
                "skipped_debit": skipped["debit"],
            }
        )

    def _skip(self, ntry: Element, p: _Paths) -> str | None:
        """Why an entry is not read, or None: a debit (money going out; but a debit that reverses
        an earlier credit is read, as the reversal of a payment), an entry not booked yet
        (pending and information entries), a batch that does not list its payments."""
        if ntry.findtext(p["c:CdtDbtInd"], "").strip() == "DBIT" and not _reverses(ntry, p):
            return "debit"
        status = p.text(ntry, "c:Sts/c:Cd", None) or ntry.findtext(p["c:Sts"], None) or "BOOK"
        if status.strip() != "BOOK":
            return "not_booked"
        if p.first(ntry, "c:NtryDtls/c:TxDtls") is None:
            count = (p.text(ntry, "c:NtryDtls/c:Btch/c:NbOfTxs", None) or "1").strip()
            if count != "1":
                return "batch_without_details"
        return None

    def _entry(self, ntry: Element, n: int, p: _Paths) -> list[BankTransaction]:
        where = f"Ntry {n}"
        amount, currency = self._amount(ntry.find(p["c:Amt"]), where, "Amt")
        entry_sign = -1 if ntry.findtext(p["c:CdtDbtInd"], "").strip() == "DBIT" else 1
        reversal = (ntry.findtext(p["c:RvslInd"], "").strip().lower()) == "true"
        booked = self._date(ntry, "c:BookgDt", p, where, "BookgDt")
        valued = self._date(ntry, "c:ValDt", p, where, "ValDt")
        if booked is None:
            raise self._fail(where, "BookgDt", "missing")
        entry_ref = ntry.findtext(p["c:AcctSvcrRef"], "").strip()
        details = p.each(ntry, "c:NtryDtls/c:TxDtls")
        out: list[BankTransaction] = []
        if not details:
            out.append(
                BankTransaction(
                    entry_sign * amount,
                    None,
                    booked,
                    entry_ref,
                    self.format,
                    where,
                    valued,
                    currency=currency,
                    is_reversal=reversal,
                    message=ntry.findtext(p["c:AddtlNtryInf"], None),
                )
            )
            return out
        tx_sum = 0
        for i, tx in enumerate(details, 1):
            tx_where = f"{where} TxDtls {i}"
            amt = tx.find(p["c:Amt"])
            if amt is None:
                amt = p.first(tx, "c:AmtDtls/c:TxAmt/c:Amt")
            if amt is None and len(details) == 1:
                amt = ntry.find(p["c:Amt"])  # one payment: the entry's amount is its amount
            value, tx_currency = self._amount(amt, tx_where, "Amt")
            sign_text = tx.findtext(p["c:CdtDbtInd"], None)
            sign = (-1 if sign_text.strip() == "DBIT" else 1) if sign_text else entry_sign
            tx_sum += value
            out.append(
                self._transaction(
                    tx, sign * value, tx_currency, booked, valued, entry_ref, tx_where, reversal, p
                )
            )
        if tx_sum != amount:
            raise self._fail(
                where,
                "Amt",
                f"the entry says {Decimal(amount) / 100}, its transactions add up to {Decimal(tx_sum) / 100}",
            )
        batch = p.first(ntry, "c:NtryDtls/c:Btch")
        if batch is not None:
            count = batch.findtext(p["c:NbOfTxs"], None)
            if count is not None and count.strip() != str(len(details)):
                raise self._fail(
                    where,
                    "Btch/NbOfTxs",
                    f"the batch says {count.strip()}, the entry has {len(details)}",
                )
            if batch.find(p["c:TtlAmt"]) is not None:
                stated, _ = self._amount(batch.find(p["c:TtlAmt"]), where, "Btch/TtlAmt")
                if stated != tx_sum:
                    raise self._fail(
                        where,
                        "Btch/TtlAmt",
                        f"the batch says {Decimal(stated) / 100}, its transactions add up to {Decimal(tx_sum) / 100}",
                    )
        return out

    def _transaction(
        self,
        tx: Element,
        amount: int,
        currency: str,
        booked: date,
        valued: date | None,
        entry_ref: str,
        where: str,
        reversal: bool,
        p: _Paths,
    ) -> BankTransaction:
        refs: list[Reference] = []
        kid = rf = None
        credit_note = False
        credited = 0
        for strd in p.each(tx, "c:RmtInf/c:Strd"):
            if (p.text(strd, "c:RfrdDocInf/c:Tp/c:CdOrPrtry/c:Cd", "") or "").strip() == "CREN":
                credit_note = True
                note = p.first(strd, "c:RfrdDocAmt/c:CdtNoteAmt")
                if note is not None:
                    credited += self._amount(note, where, "CdtNoteAmt")[0]
            for info in p.each(strd, "c:CdtrRefInf"):
                ref = (p.text(info, "c:Ref", "") or "").strip()
                if not ref:
                    continue
                found = classify(ref, p.text(info, "c:Tp/c:CdOrPrtry/c:Prtry", None))
                refs.append(found)
                if kid is None and found.kind == "KID":
                    kid = found.value
                elif rf is None and found.kind == "RF":
                    rf = found.value
        texts = [
            u.text.strip() for u in p.each(tx, "c:RmtInf/c:Ustrd") if u.text and u.text.strip()
        ]
        message = " ".join(texts) or None
        if message and "CREN" in message.upper():
            credit_note = True
        name = p.text(tx, "c:RltdPties/c:Dbtr/c:Nm", None) or p.text(
            tx, "c:RltdPties/c:Dbtr/c:Pty/c:Nm", None
        )
        account = p.text(tx, "c:RltdPties/c:DbtrAcct/c:Id/c:IBAN", None) or p.text(
            tx, "c:RltdPties/c:DbtrAcct/c:Id/c:Othr/c:Id", None
        )
        if account:
            account = account.strip().replace(" ", "")
            if account.upper().startswith("NO") and len(account) == 15:
                account = account[4:]  # a Norwegian IBAN holds the 11-digit BBAN
        reference = p.text(tx, "c:Refs/c:AcctSvcrRef", None) or entry_ref
        return BankTransaction(
            amount_ore=amount,
            kid=kid,
            booking_date=booked,
            bank_reference=reference.strip(),
            source=self.format,
            position=where,
            value_date=valued,
            payer_account=account or None,
            payer_name=name.strip() if name else None,
            message=message,
            currency=currency,
            is_credit_note=credit_note,
            is_reversal=reversal,
            rf_reference=rf,
            references=tuple(refs),
            transaction_type=p.text(tx, "c:BkTxCd/c:Domn/c:Fmly/c:SubFmlyCd", None),
            credit_note_ore=credited,
        )
