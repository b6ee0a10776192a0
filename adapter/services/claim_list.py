"""The claims list: every claim of a company, filtered (stage, days overdue, amount, disputed,
at the agency, held), sorted and paged; the same rows, unpaged, for its export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from adapter.store.repositories.claim_list import SORTS, STAGE_ORDER, ClaimFilter, ClaimLine
from adapter.store.uow import UnitOfWork

__all__ = ["SORTS", "STAGE_ORDER", "ClaimFilter", "ClaimLine", "ClaimListPage", "claim_list"]

PAGE_SIZE = 50


@dataclass(frozen=True)
class ClaimListPage:
    """One page of the list and how many claims the filter lets through."""

    lines: list[ClaimLine]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        """How many pages the list has (at least one)."""
        return max(1, -(-self.total // self.size))

    @property
    def more(self) -> bool:
        """Whether a next page follows."""
        return (self.page + 1) * self.size < self.total


def claim_list(
    uow: UnitOfWork,
    f: ClaimFilter,
    today: date,
    *,
    sort: str = "due",
    descending: bool = False,
    page: int = 0,
    size: int | None = PAGE_SIZE,
) -> ClaimListPage:
    """A page of the company's claims (every claim with size=None, for an export)."""
    if sort not in SORTS:
        sort = "due"
    with uow:
        uow.companies.get(uow.require_company())
        total = uow.claim_list.count(f, today)
        lines = uow.claim_list.lines(
            f,
            today,
            sort=sort,
            descending=descending,
            offset=page * (size or 0),
            limit=size,
        )
    return ClaimListPage(lines, total, page, size or max(total, 1))
