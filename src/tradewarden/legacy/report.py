"""What happened to every input row, and its rendering for the terminal or as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tradewarden.legacy.records import RowRef


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """One row that was not simply imported: a duplicate or an invalid row, with why."""

    ref: RowRef
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"section": self.ref.section.value, "row": self.ref.number,
                "legacy_id": self.ref.legacy_id, "reason": self.reason}


@dataclass(slots=True)
class SectionReport:
    """Counts for one section of one file; ``imported + skipped + invalid == rows``."""

    label: str
    rows: int = 0
    imported: int = 0
    orders_created: int = 0
    skipped: list[RowOutcome] = field(default_factory=list)
    invalid: list[RowOutcome] = field(default_factory=list)

    @property
    def accounted(self) -> int:
        return self.imported + len(self.skipped) + len(self.invalid)

    def summary(self) -> str:
        return (f"{self.rows} rows: {self.imported} imported ({self.orders_created} orders), "
                f"{len(self.skipped)} skipped (duplicate), {len(self.invalid)} invalid")

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "rows": self.rows, "imported": self.imported,
                "orders_created": self.orders_created,
                "skipped_duplicate": [o.as_dict() for o in self.skipped],
                "invalid": [o.as_dict() for o in self.invalid]}


@dataclass(slots=True)
class ImportReport:
    user: str
    account: str
    sections: list[SectionReport] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.sections)

    @property
    def imported(self) -> int:
        return sum(s.imported for s in self.sections)

    @property
    def skipped(self) -> int:
        return sum(len(s.skipped) for s in self.sections)

    @property
    def invalid(self) -> int:
        return sum(len(s.invalid) for s in self.sections)

    @property
    def orders_created(self) -> int:
        return sum(s.orders_created for s in self.sections)

    def render(self, max_listed: int = 20) -> str:
        """The terminal report: per section counts and listed rows; totals on the last line."""
        lines = [f"legacy import for user {self.user} into account {self.account}"]
        for section in self.sections:
            lines.append(f"{section.label}: {section.summary()}")
            for kind, outcomes in (("invalid", section.invalid),
                                   ("duplicate", section.skipped)):
                for outcome in outcomes[:max_listed]:
                    lines.append(f"  {kind}: {outcome.ref}: {outcome.reason}")
                if len(outcomes) > max_listed:
                    lines.append(f"  … and {len(outcomes) - max_listed} more {kind} rows "
                                 f"(use --report-json FILE for all)")
        lines.append(f"total: {self.rows} rows: {self.imported} imported "
                     f"({self.orders_created} orders), {self.skipped} skipped (duplicate), "
                     f"{self.invalid} invalid")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"user": self.user, "account": self.account, "rows": self.rows,
                "imported": self.imported, "orders_created": self.orders_created,
                "skipped_duplicate": self.skipped, "invalid": self.invalid,
                "sections": [s.as_dict() for s in self.sections]}
