"""What every company-scoped repository shares."""

from __future__ import annotations

from sqlalchemy import Connection

from adapter.clock import Clock


class CompanyScoped:
    """A repository that only ever reads and writes one company's rows."""

    def __init__(self, conn: Connection, company_id: int, clock: Clock):
        self.conn, self.company_id, self.clock = conn, company_id, clock
