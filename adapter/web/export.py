"""Lists as files a Norwegian accountant opens in Excel: CSV the way Norwegian Excel reads it
(semicolons, UTF-8 with a byte order mark, "1234,50", dd.mm.åååå) and .xlsx (openpyxl) with
amounts as numbers with two decimals and dates as dates. Headings come from the catalogue,
in the reader's language."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from adapter.clock import OSLO
from adapter.web.pages.views import inline_file

Kind = Literal["text", "money", "date", "time", "number"]
FORMATS = ("csv", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    """One column: its heading (already in the reader's language), what it holds, and how to
    read it from a row. A money column's value is øre."""

    heading: str
    value: Callable[[Any], Any]
    kind: Kind = "text"


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return _local(value).date()
    return value if isinstance(value, date) else None


def _local(value: datetime) -> datetime:
    """A point in time as Oslo's clock showed it (Excel has no time zones)."""
    return (value.astimezone(OSLO) if value.tzinfo else value).replace(tzinfo=None)


def _csv_cell(kind: Kind, value: Any) -> str:
    if value is None:
        return ""
    if kind == "money":
        sign = "-" if value < 0 else ""
        kroner, ore = divmod(abs(int(value)), 100)
        return f"{sign}{kroner},{ore:02d}"  # no thousands separator: Excel reads it as a number
    if kind == "date":
        day = _day(value)
        return day.strftime("%d.%m.%Y") if day else str(value)
    if kind == "time" and isinstance(value, datetime):
        return _local(value).strftime("%d.%m.%Y %H:%M")
    return _text(value)


def _text(value: Any) -> str:
    """Text as a cell shows it, never as a formula (a name typed as "=..." stays text)."""
    text = str(value)
    return "'" + text if text.startswith(("=", "+", "-", "@")) else text


def csv_bytes(columns: list[Column], rows: Iterable[Any]) -> bytes:
    """The rows as CSV for Norwegian Excel: semicolon-separated, UTF-8 with a BOM."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([c.heading for c in columns])
    for row in rows:
        writer.writerow([_csv_cell(c.kind, c.value(row)) for c in columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx_cell(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind == "money":
        return Decimal(int(value)) / 100  # exact: the file holds the decimal text
    if kind == "date":
        return _day(value)
    if kind == "time" and isinstance(value, datetime):
        return _local(value)
    if kind == "number":
        return value
    return _text(value)


def xlsx_bytes(columns: list[Column], rows: Iterable[Any], *, title: str) -> bytes:
    """The rows as an Excel workbook of one sheet: bold headings that stay in view, amounts as
    numbers with two decimals, dates as dates (dd.mm.åååå)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31] or "Liste"
    sheet.append([c.heading for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    widths = [len(c.heading) for c in columns]
    for row in rows:
        values = [_xlsx_cell(c.kind, c.value(row)) for c in columns]
        sheet.append(values)
        for i, v in enumerate(values):
            widths[i] = max(widths[i], min(60, len(str(v)) if v is not None else 0))
    for i, c in enumerate(columns, start=1):
        letter = get_column_letter(i)
        sheet.column_dimensions[letter].width = widths[i - 1] + 2
        fmt = {"money": "#,##0.00", "date": "DD.MM.YYYY", "time": "DD.MM.YYYY HH:MM"}.get(c.kind)
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = fmt
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def download(name: str, fmt: str, columns: list[Column], rows: Iterable[Any]) -> Response:
    """A list as a file to save: `name`.csv or `name`.xlsx."""
    if fmt == "xlsx":
        body, media = xlsx_bytes(columns, rows, title=name), XLSX
    else:
        body, media = csv_bytes(columns, rows), "text/csv; charset=utf-8"
    disposition = inline_file(f"{name}.{fmt}").replace("inline;", "attachment;", 1)
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})
