"""Manual work on payments: match one to an invoice, move it to another customer, unmatch it,
register a payment that never came through a file. Each is one transaction, logged."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import delete, select, update

from adapter import company_settings
from adapter.domain import MatchStatus, Money, Payment
from adapter.errors import InputError
from adapter.i18n import N_
from adapter.services.allocation import apply_payment
from adapter.services.bank_import import add_customers, register_with_ledger, unknown_kid_customer
from adapter.services.matching import MatchIndex, payer
from adapter.store.tables import allocations, claims, outbox
from adapter.store.uow import UnitOfWork
from connectors.bank.transactions import BankTransaction


def _bank(uow: UnitOfWork) -> company_settings.BankSettings:
    return company_settings.effective(company_settings.BankSettings, uow.settings.get("bank"))


def match_payment(uow: UnitOfWork, payment_id: int, invoice_number: str, *, actor: str) -> Payment:
    """Allocate an unmatched (or on-account) payment to an invoice."""
    with uow:
        payment = uow.payments.get(payment_id)
        if payment.status is MatchStatus.MATCHED:
            raise InputError(
                "--payment", f"payment {payment_id} is already matched; unmatch it first"
            )
        if payment.amount.ore <= 0:
            raise InputError(
                "--payment",
                f"payment {payment_id} is a credit note or reversal ({payment.amount} kr): book it by hand",
            )
        invoice = uow.invoices.by_number(invoice_number)
        assert invoice.id is not None
        bank = _bank(uow)
        applied = apply_payment(
            uow,
            payment_id=payment_id,
            customer_id=invoice.customer_id,
            invoice_id=invoice.id,
            amount_ore=payment.amount.ore,
            on=payment.payment_date,
            order=tuple(bank.allocation_order),
            write_off_limit_ore=bank.write_off_limit,
            actor=actor,
        )
        uow.payments.set_match(
            payment_id,
            status=MatchStatus.MATCHED.value,
            match_method="manual",
            unmatched_reason=None,
            customer_id=invoice.customer_id,
        )
        register_with_ledger(
            uow, payment_id, invoice.id, applied, payment.payment_date, bank.payment_type_id
        )
        uow.audit.record(
            actor=actor,
            action="payment.match",
            subject=("invoice", invoice.id),
            message=f"payment {payment_id} of {payment.amount} kr matched by hand to invoice {invoice.number}",
            said=N_(
                "Payment of %(amount_ore)s matched by hand to invoice %(number)s",
                amount_ore=payment.amount.ore,
                number=invoice.number,
            ),
            data={
                "payment_id": payment_id,
                "principal_ore": applied.principal,
                "fees_ore": applied.fees,
                "interest_ore": applied.interest,
                "credit_ore": applied.credit,
            },
        )
        uow.commit()
        return uow.payments.get(payment_id)


def move_payment(uow: UnitOfWork, payment_id: int, customer_ref: str, *, actor: str) -> Payment:
    """Move an unallocated payment (e.g. from "Betaling med ukjent KID") to the real customer."""
    with uow:
        payment = uow.payments.get(payment_id)
        if payment.status is MatchStatus.MATCHED:
            raise InputError(
                "--payment", f"payment {payment_id} is allocated to an invoice; unmatch it first"
            )
        customer = uow.customers.find(customer_ref)
        uow.payments.set_match(
            payment_id, status=MatchStatus.ON_ACCOUNT.value, customer_id=customer.id
        )
        uow.audit.record(
            actor=actor,
            action="payment.move",
            subject=("payment", payment_id),
            message=f"payment {payment_id} of {payment.amount} kr moved to customer {customer.name}",
        )
        uow.commit()
        return uow.payments.get(payment_id)


def unmatch_payment(uow: UnitOfWork, payment_id: int, *, actor: str) -> Payment:
    """Undo a payment's allocations (refused once the ledger has registered it)."""
    with uow:
        payment = uow.payments.get(payment_id)
        sends = uow.conn.execute(
            select(outbox.c.id, outbox.c.status).where(
                outbox.c.company_id == uow.require_company(),
                outbox.c.kind.in_(("tripletex.payment", "kravia.payment")),
                outbox.c.payload["payment_id"].as_integer() == payment_id,
            )
        ).all()
        if any(s.status in ("sent", "sending", "unknown") for s in sends):
            raise InputError(
                "--payment",
                f"payment {payment_id} is registered in Tripletex or forwarded already: reverse it there first",
            )
        invoice_ids = [
            r.invoice_id
            for r in uow.conn.execute(
                select(allocations.c.invoice_id).where(
                    allocations.c.payment_id == payment_id, allocations.c.invoice_id.is_not(None)
                )
            )
        ]
        uow.conn.execute(delete(outbox).where(outbox.c.id.in_([s.id for s in sends])))
        uow.conn.execute(
            delete(allocations).where(
                allocations.c.company_id == uow.require_company(),
                allocations.c.payment_id == payment_id,
            )
        )
        uow.payments.recompute_outstanding(sorted(set(invoice_ids)))
        uow.conn.execute(
            update(claims)
            .where(claims.c.invoice_id.in_(invoice_ids), claims.c.status == "closed")
            .values(status="open", closed_at=None)
        )
        uow.payments.set_match(
            payment_id,
            status=MatchStatus.UNMATCHED.value,
            match_method=None,
            unmatched_reason="unmatched_by_hand",
        )
        uow.audit.record(
            actor=actor,
            action="payment.unmatch",
            subject=("payment", payment_id),
            message=f"payment {payment_id} of {payment.amount} kr unmatched; it waits in the worklist",
        )
        uow.commit()
        return uow.payments.get(payment_id)


def register_payment(
    uow: UnitOfWork, invoice_number: str, amount: Money, on: date, *, actor: str
) -> Payment:
    """A payment that never came through a file (cash, a bank without files): matched to the invoice."""
    if amount.ore <= 0:
        raise InputError("--amount", "must be more than 0")
    with uow:
        invoice = uow.invoices.by_number(invoice_number)
        assert invoice.id is not None
        payment_id = uow.payments.add(
            Payment(
                None,
                uow.require_company(),
                f"manual:{uuid.uuid4().hex}",
                "manual",
                amount,
                on,
                kid=invoice.kid.value if invoice.kid else None,
                status=MatchStatus.MATCHED,
                match_method="manual",
                customer_id=invoice.customer_id,
            )
        )
        assert payment_id is not None
        bank = _bank(uow)
        applied = apply_payment(
            uow,
            payment_id=payment_id,
            customer_id=invoice.customer_id,
            invoice_id=invoice.id,
            amount_ore=amount.ore,
            on=on,
            order=tuple(bank.allocation_order),
            write_off_limit_ore=bank.write_off_limit,
            actor=actor,
        )
        register_with_ledger(uow, payment_id, invoice.id, applied, on, bank.payment_type_id)
        uow.audit.record(
            actor=actor,
            action="payment.register",
            subject=("invoice", invoice.id),
            message=f"payment of {amount} kr on {on} registered by hand on invoice {invoice.number}",
            data={
                "payment_id": payment_id,
                "principal_ore": applied.principal,
                "fees_ore": applied.fees,
                "interest_ore": applied.interest,
                "credit_ore": applied.credit,
            },
        )
        uow.commit()
        return uow.payments.get(payment_id)


def set_aside(uow: UnitOfWork, payment_id: int, action: str, *, actor: str) -> Payment:
    """Apply the unknown-KID choice to one waiting payment by hand: book it on the payer's customer
    (or "Betaling med ukjent KID") as unallocated, or ignore it (book it outside Kravflyt)."""
    if action not in ("on_account", "ignore"):
        raise InputError("action", "on_account or ignore")
    with uow:
        payment = uow.payments.get(payment_id)
        if payment.status is MatchStatus.MATCHED:
            raise InputError("--payment", f"payment {payment_id} is matched already")
        if action == "ignore":
            uow.payments.set_match(payment_id, status=MatchStatus.IGNORED.value)
            text = "ignored: to be booked by hand outside Kravflyt"
        else:
            index = MatchIndex()
            add_customers(uow, index)

            tx = BankTransaction(
                payment.amount.ore,
                payment.kid,
                payment.payment_date,
                payment.bank_reference or "",
                payment.source,
                "",
                payer_account=payment.payer_account,
                payer_name=payment.payer_name,
            )
            customer_id = payment.customer_id or payer(tx, index) or unknown_kid_customer(uow)
            uow.payments.set_match(
                payment_id, status=MatchStatus.ON_ACCOUNT.value, customer_id=customer_id
            )
            text = f"booked on customer {uow.customers.get(customer_id).name} as unallocated"
        uow.audit.record(
            actor=actor,
            action="payment.set_aside",
            subject=("payment", payment_id),
            message=f"payment {payment_id} of {payment.amount} kr {text}",
            said=N_(
                "Payment of %(amount_ore)s set aside: %(what)s",
                amount_ore=payment.amount.ore,
                what=N_("ignored") if action == "ignore" else N_("booked on the customer"),
            ),
        )
        uow.commit()
        return uow.payments.get(payment_id)
