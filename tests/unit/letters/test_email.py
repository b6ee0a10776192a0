"""E-mail delivery against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import io
import re

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from pypdf import PdfReader

from adapter.letters import email as mail
from adapter.letters.render import pdf
from adapter.letters.samples import SAMPLES
from connectors.serving import free_port
from policies.ladder import Stage


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[email.message.Message] = []

    def handle_message(self, message: email.message.Message) -> None:
        self.messages.append(message)


def test_letter_arrives_with_the_pdf() -> None:
    inbox = Inbox()
    port = free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        message = mail.build_message(
            to="kari@example.no",
            subject="Purring: faktura 10001",
            body="Vedlagt.",
            pdf=pdf(SAMPLES[Stage.REMINDER_1]),
            filename="purring-10001.pdf",
            sender="faktura@fjordlys.no",
            message_key="letter-1-7",
        )
        mail.send(
            mail.SmtpSettings("127.0.0.1", port, "none", from_address="faktura@fjordlys.no"),
            message,
        )
    finally:
        server.stop()
    [received] = inbox.messages
    assert (received["To"], received["From"], received["Subject"]) == (
        "kari@example.no",
        "faktura@fjordlys.no",
        "Purring: faktura 10001",
    )
    assert "letter-1-7" in received["Message-ID"]
    attachment = next(
        part for part in received.walk() if part.get_filename() == "purring-10001.pdf"
    )
    text = re.sub(
        r"[ \u00a0]+",
        " ",
        PdfReader(io.BytesIO(attachment.get_payload(decode=True))).pages[0].extract_text(),
    )
    assert "1 295,49 kr" in text and "19.02.2026" in text


def test_password_never_in_repr() -> None:
    assert "hunter2" not in repr(mail.SmtpSettings("smtp.example.no", password="hunter2"))
