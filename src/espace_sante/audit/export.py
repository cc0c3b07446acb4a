"""The activity history as a CSV file the patient downloads.

The format, chosen for the spreadsheet apps French users open it with:
- RFC 4180 quoting (every cell quoted, ``""`` for a quote inside) and CRLF line ends;
- ``;`` between cells: French spreadsheets use the comma as decimal separator and expect ``;``;
- UTF-8 with a byte-order mark, so that Excel reads the accents right (LibreOffice does anyway);
- columns ``date`` (ISO 8601 in Europe/Paris local time, with its offset), ``type``, ``acteur``,
  ``description``, with a French header line;
- a cell that a spreadsheet would take for a formula (starting with ``=``, ``+``, ``-``, ``@``, a
  tab or a carriage return) gets a leading ``'`` (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from espace_sante.audit.activity import ActivityItem

PARIS = ZoneInfo("Europe/Paris")
BOM = "\ufeff"
HEADER = ("date", "type", "acteur", "description")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """``cell`` made inert for spreadsheets (a leading ``'`` before a formula start)."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def activity_csv(items: Iterable[ActivityItem]) -> str:
    """The CSV text of ``items`` (in the order given), BOM first."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(HEADER)
    for item in items:
        writer.writerow(
            [
                neutralise(cell)
                for cell in (
                    item.at.astimezone(PARIS).isoformat(timespec="seconds"),
                    item.kind_label_fr,
                    item.actor_label_fr,
                    item.text_fr,
                )
            ]
        )
    return BOM + out.getvalue()
