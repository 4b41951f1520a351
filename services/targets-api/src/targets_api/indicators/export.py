"""Export of a plan's indicators and their progress as CSV or XLSX (one row per indicator)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

COLUMNS = [
    "code",
    "chapter",
    "category",
    "name_zh",
    "name_en",
    "kind",
    "unit",
    "baseline",
    "target",
    "value",
    "expected_by_now",
    "as_of",
    "status",
    "period_start",
    "period_end",
    "due_date",
    "lead_department",
    "co_departments",
    "livelihood_number",
    "live_source",
]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value) if not isinstance(value, int | float) else value


def to_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in COLUMNS])
    # With a BOM, spreadsheet programs read the Chinese text as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode()


def to_xlsx(rows: Sequence[dict[str, Any]], title: str) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title[:31] or "indicators"
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([_cell(row.get(c)) for c in COLUMNS])
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
