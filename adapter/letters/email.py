"""E-mail delivery of letters over SMTP, with the PDF attached.

An inkassovarsel or a betalingsoppfordring may go by e-mail only when the debtor has accepted
electronic delivery (the customer's own consent, or the company's confirmation that its terms
say so): the law asks for delivery "på betryggende måte" (INKL § 3 a, § 9; FRL § 2 for a
demand), and e-mail alone may not meet that (dunning rules §2.2, D2).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from adapter.errors import InputError
from connectors.errors import FatalError, OutcomeUnknownError, RetriableError
from connectors.http import check_write, write_deadline
from policies.ladder import Stage

NEEDS_CONSENT = (Stage.INKASSOVARSEL, Stage.BETALINGSOPPFORDRING)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send."""

    host: str
    port: int = 587
    security: str = "starttls"  # starttls, ssl or none
    user: str | None = None
    password: str | None = None
    from_address: str = ""

    def __repr__(self) -> str:
        return f"SmtpSettings(host={self.host!r}, port={self.port}, security={self.security!r}, user={self.user!r}, password='***')"


def check_may_email(stage: Stage, *, customer_accepts: bool, company_confirms: bool) -> None:
    """Refuse to e-mail a letter the law wants delivered "på betryggende måte" without consent."""
    if stage in NEEDS_CONSENT and not (customer_accepts or company_confirms):
        raise InputError(
            "letters.delivery",
            f"a {stage.label} may be e-mailed only when the debtor has accepted electronic delivery "
            "(INKL § 3 a, § 9: delivery 'på betryggende måte'): record the customer's consent, set "
            "letters.debtors_accept_email=true if your terms say so, or send it by post",
        )


def build_message(
    *, to: str, subject: str, body: str, pdf: bytes, filename: str, sender: str, message_key: str
) -> EmailMessage:
    """The e-mail with the letter attached; its Message-ID is `message_id(message_key,
    sender)`, the same on every try."""
    if not to or "@" not in to:
        raise InputError("email", f"{to!r} is not an e-mail address")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = message_id(message_key, sender)
    msg.set_content(body)
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return msg


def message_id(message_key: str, sender: str) -> str:
    """The Message-ID of one outbox row's e-mail, the same on every try: a resend after an
    unknown outcome (the connection lost after DATA) carries the Message-ID of the try that
    may have arrived, so the receiving side can drop the second (RFC 5322 § 3.6.4: one
    message, one id). `message_key` names the row's letter (unique in this installation) and
    the sender's domain makes it unique beyond it."""
    domain = sender.rpartition("@")[2].strip().strip(">") or "kravflyt.invalid"
    return f"<{message_key}@{domain}>"


def send(settings: SmtpSettings, message: EmailMessage, *, timeout: float = 30.0) -> None:
    """Send one message over SMTP, saying what became of it when it fails.

    SMTP has no way to ask a server whether a message arrived, so each failure is classed by
    how far the exchange got (issue 19):
    - before the DATA command (cannot connect, refused connection, TLS, login, MAIL FROM,
      RCPT TO): nothing was handed over. A 5xx answer is `FatalError` (refused for good:
      the letter failed), anything else `RetriableError` (not sent; tried again by itself);
    - the server answered DATA or the message with an error code: it said it did not take
      the message (5xx: `FatalError`, 4xx: `RetriableError`);
    - the connection failed after DATA without an answer: the server may have the message:
      `OutcomeUnknownError`, and a person decides (resend, or mark it sent).
    """
    sender = settings.from_address or str(message["From"])
    to = str(message["To"])
    wait = write_deadline(timeout) or timeout
    check_write()  # the caller still owns this send
    smtp: smtplib.SMTP | None = None
    try:
        smtp = _open(settings, wait)
        smtp.ehlo_or_helo_if_needed()
        _answered(smtp.mail(sender))
        _answered(smtp.rcpt(to))
    except smtplib.SMTPResponseException as exc:
        _close(smtp)
        raise _refused(exc.smtp_code, exc.smtp_error, "before DATA") from exc
    except (OSError, smtplib.SMTPException) as exc:
        _close(smtp)
        raise RetriableError(
            f"e-mail not sent ({type(exc).__name__}: {exc}): nothing was handed over"
        ) from exc
    try:
        smtp.data(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
    except smtplib.SMTPResponseException as exc:
        raise _refused(exc.smtp_code, exc.smtp_error, "at DATA") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise OutcomeUnknownError(
            f"e-mail may have been sent: the connection failed after DATA ({type(exc).__name__})"
        ) from exc
    finally:
        _close(smtp)


def _open(settings: SmtpSettings, timeout: float) -> smtplib.SMTP:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.security == "ssl":
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    if settings.security == "starttls":
        smtp.starttls(context=context)
    if settings.user:
        smtp.login(settings.user, settings.password or "")
    return smtp


def _answered(reply: tuple[int, bytes]) -> None:
    code, text = reply
    if code >= 400:
        raise smtplib.SMTPResponseException(code, text)


def _refused(code: int, text: bytes | str, when: str) -> Exception:
    said = text.decode(errors="replace") if isinstance(text, bytes) else text
    if code >= 500:
        return FatalError(f"e-mail refused by the server {when}: {code} {said}")
    return RetriableError(f"e-mail not taken by the server {when}, try later: {code} {said}")


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
