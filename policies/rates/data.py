"""Dated legal numbers, each with the date it applies from and its source.

Sources are the keys of shared/reference/norway-dunning-rules.md §8. Update a table by adding a
row; nothing else changes. Rows marked UNCONFIRMED rest on secondary sources only.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

# Forsinkelsesrente (FRL § 3), per half-year, percent per year. §1.2.
INTEREST: list[tuple[date, Decimal, str]] = [
    (date(2015, 1, 1), Decimal("9.25"), "FRNET"),
    (date(2015, 7, 1), Decimal("9.00"), "FRNET"),
    (date(2016, 1, 1), Decimal("8.75"), "FRNET"),
    (date(2016, 7, 1), Decimal("8.50"), "FRNET; R2016H2"),
    (date(2017, 1, 1), Decimal("8.50"), "FRNET; R2017H1"),
    (date(2017, 7, 1), Decimal("8.50"), "FRNET"),
    (date(2018, 1, 1), Decimal("8.50"), "FRNET"),
    (date(2018, 7, 1), Decimal("8.50"), "FRNET"),
    (date(2019, 1, 1), Decimal("8.75"), "FRNET; ALEKTUM-2019"),
    (date(2019, 7, 1), Decimal("9.25"), "FRNET"),
    (date(2020, 1, 1), Decimal("9.50"), "FRNET; BAHS-2020"),
    (date(2020, 7, 1), Decimal("8.00"), "FRNET; BSR-2020"),
    (date(2021, 1, 1), Decimal("8.00"), "FRNET"),
    (date(2021, 7, 1), Decimal("8.00"), "FRNET; TK-2021"),
    (date(2022, 1, 1), Decimal("8.50"), "FRNET"),
    (date(2022, 7, 1), Decimal("9.25"), "FRNET; RK-2022"),
    (date(2023, 1, 1), Decimal("10.75"), "FRNET; RN-2023"),
    (date(2023, 7, 1), Decimal("11.75"), "FRNET; FOR-2023-06-22-1075"),
    (date(2024, 1, 1), Decimal("12.50"), "FRNET; FOR-2023-12-14-2043"),
    (date(2024, 7, 1), Decimal("12.50"), "FOR-2024-06-26-1320 (UNCONFIRMED: one secondary source)"),
    (date(2025, 1, 1), Decimal("12.50"), "FOR-2024-12-19-3279 (Lovdata)"),
    (date(2025, 7, 1), Decimal("12.25"), "FOR-2025-06-23-1321"),
    (
        date(2026, 1, 1),
        Decimal("12.00"),
        "FOR-2025-12-18-2658 (UNCONFIRMED: two secondary sources)",
    ),
    (
        date(2026, 7, 1),
        Decimal("12.25"),
        "FOR-2026-06-25-1372 (UNCONFIRMED: two secondary sources)",
    ),
]
INTEREST_KNOWN_UNTIL = date(2026, 12, 31)  # the 2027 H1 rate is set around mid-December 2026

# Inkassosats (INKF), by the date a letter is sent. §2.1.
INKASSOSATS: list[tuple[date, Decimal, str]] = [
    (date(2015, 1, 1), Decimal(650), "OPAS-2015"),
    (date(2016, 1, 1), Decimal(670), "FAKTURA.NO"),
    (date(2017, 1, 1), Decimal(700), "STICOS"),
    (date(2026, 1, 1), Decimal(750), "FOR-2025-12-19-2709"),
]
# Claims falling due before this date take 1/10 (and 3/10) of the sats; later ones 1/20 (3/20).
FEE_HALVING_DUE_FROM = date(2020, 10, 1)  # FOR-2020-06-19-1248, SERGEL-2020
# From this send date the fee is rounded to the nearest krone (37.50 -> 38). §2.1.
FEE_ROUNDING_FROM = date(2026, 1, 1)

# B2B standard compensation (FRL § 3a): NOK value of EUR 40 per half-year. §1.5.
B2B_COMPENSATION: list[tuple[date, Decimal, str]] = [
    (date(2014, 1, 1), Decimal(320), "R2014H1"),
    (date(2016, 7, 1), Decimal(370), "R2016H2"),
    (date(2017, 1, 1), Decimal(360), "R2017H1"),
    (date(2020, 7, 1), Decimal(430), "BSR-2020"),
    (date(2021, 7, 1), Decimal(400), "TK-2021"),
    (date(2022, 7, 1), Decimal(400), "RK-2022"),
    (date(2023, 1, 1), Decimal(410), "RN-2023"),
    (date(2023, 7, 1), Decimal(460), "VANTIGO"),
    # 470 per VANTIGO, 460 per RETRIEVE-2024: UNCONFIRMED, the lower figure (safe for the debtor).
    (date(2024, 1, 1), Decimal(460), "RETRIEVE-2024 (UNCONFIRMED: VANTIGO says 470)"),
    (date(2024, 7, 1), Decimal(460), "VANTIGO"),
    (date(2025, 1, 1), Decimal(470), "R2025H1 (Lovdata)"),
    (date(2025, 7, 1), Decimal(460), "VANTIGO"),
    (date(2026, 1, 1), Decimal(460), "VANTIGO"),
    (date(2026, 7, 1), Decimal(430), "VANTIGO"),
]
