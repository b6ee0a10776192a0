"""Per-company settings sections, kept as validated JSON."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from adapter.store.repositories.base import CompanyScoped
from adapter.store.sql import upsert
from adapter.store.tables import company_settings


class SettingsRepository(CompanyScoped):
    """Reads and writes one company's settings sections."""

    def get(self, section: str) -> dict[str, Any] | None:
        """The stored section, or None when the company uses the defaults."""
        row = self.conn.execute(
            select(company_settings.c.value).where(
                company_settings.c.company_id == self.company_id,
                company_settings.c.section == section,
            )
        ).first()
        return dict(row.value) if row else None

    def all(self) -> dict[str, dict[str, Any]]:
        """Every stored section of the company."""
        rows = self.conn.execute(
            select(company_settings.c.section, company_settings.c.value).where(
                company_settings.c.company_id == self.company_id
            )
        )
        return {r.section: dict(r.value) for r in rows}

    def put(self, section: str, value: dict[str, Any], *, by: str) -> None:
        """Store a whole (already validated) section."""
        upsert(
            self.conn,
            company_settings,
            [
                {
                    "company_id": self.company_id,
                    "section": section,
                    "value": value,
                    "updated_at": self.clock.now(),
                    "updated_by": by,
                }
            ],
            key=["company_id", "section"],
            update=["value", "updated_at", "updated_by"],
        )
