"""The activity history: every action described in French, read by kind and period newest first,
the chain's status, and the CSV export (quoting, formula injection, hostile values)."""

from __future__ import annotations

import ast
import csv
import io
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import Environment
from sqlalchemy import update

from espace_sante import audit
from espace_sante.audit.activity import (
    ACTOR_LABELS,
    KINDS,
    ActivityItem,
    describe,
    known_actions,
)
from espace_sante.audit.export import BOM, activity_csv
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AuditEntry

SRC = Path(__file__).resolve().parents[2] / "src" / "espace_sante"
#: What the record store writes (its engineer's list), described before the code lands.
RECORD_ACTIONS = {
    "document.viewed", "document.downloaded", "document.uploaded", "document.masked",
    "document.unmasked", "document.deleted", "document.replaced", "document.deprecated",
    "document.archived", "document.access_refused", "record.listed", "authorisation.granted",
    "authorisation.blocked", "authorisation.unblocked", "authorisation.declared",
    "attending_physician.set", "emergency.consents_changed", "emergency.access_opened",
    "emergency.access_refused", "notification_settings.changed",
}  # fmt: skip
_ACTION_SHAPE = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
_WRITERS = {"append", "append_many", "append_sync", "AuditEvent", "_audit"}


def _strings(node: ast.AST) -> set[str]:
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and _ACTION_SHAPE.match(n.value)
    }


def actions_written_in_src() -> set[str]:
    """Every audit action the code can write: ``action=`` arguments, the action argument of
    ``AuditEvent(...)`` / ``_audit(...)`` calls, and values assigned to a variable ``action``."""
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                for kw in node.keywords:
                    if kw.arg == "action":
                        found |= _strings(kw.value)
                if name in _WRITERS:
                    for arg in node.args:
                        if not isinstance(arg, ast.Dict):
                            found |= _strings(arg)
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "action" for t in node.targets
            ):
                found |= _strings(node.value)
    return found


def test_the_scan_finds_the_actions_we_know_of() -> None:
    found = actions_written_in_src()
    for action in ("login.failed", "login.locked", "web.logout", "web.session.expired",
                   "outbound.failed", "outbound.expired", "message.received",
                   "notification.skipped", "notification_settings.changed"):  # fmt: skip
        assert action in found, action


def test_every_action_written_in_src_has_a_french_description() -> None:
    missing = (actions_written_in_src() | RECORD_ACTIONS) - known_actions()
    assert not missing, f"add these to audit/activity_catalogue.py: {sorted(missing)}"


@dataclass
class Entry:
    action: str
    detail: Any
    actor: str = "gateway"
    account_id: int = 7
    at: datetime = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)


def test_a_professional_viewing_a_document() -> None:
    item = describe(
        Entry(
            "document.viewed",
            {"document": 12, "professional_id": "810001234567", "actor_kind": "professional"},
            actor="professional:810001234567",
        )
    )
    assert item.kind == "documents" and item.actor_label_fr == "Professionnel de santé"
    assert item.text_fr == (
        "Consultation du document n° 12 par un professionnel de santé (identifiant 810001234567)"
    )


def test_break_glass_shows_its_reason_and_end() -> None:
    item = describe(
        Entry(
            "emergency.access_opened",
            {
                "mode": "break_glass",
                "reason": "Patient inconscient aux urgences",
                "professional_name": "Dr Paul Urgent",
                "until": "2026-07-01T10:00:00+00:00",
            },
            actor="break_glass:810009999999",
        )  # fmt: skip
    )
    assert item.kind == "urgence"
    assert item.text_fr == (
        "Accès en urgence (bris de glace) à votre dossier par Dr Paul Urgent : motif « Patient "
        "inconscient aux urgences » (jusqu'au 01/07/2026 à 12:00)"
    )


@pytest.mark.parametrize(
    ("actor", "account_id", "holder", "expected"),
    [
        ("account:7", 7, None, "Vous"),
        ("account:3", 7, None, "Représentant légal"),
        ("2800175123456@patient.mssante.fr", 7, None, "Vous"),
        ("1750269123123@patient.mssante.fr", 7, "2800175123456@patient.mssante.fr",
         "Représentant légal"),
        ("dr.dupont@medecin.mssante.fr", 7, None, "Professionnel de santé"),
        ("facility:750000001", 7, None, "Établissement de santé"),
        ("service:agenda", 7, None, "Service référencé"),
        ("anonymous", 7, None, "Système"),
        ("gateway", 7, None, "Système"),
    ],
)  # fmt: skip
def test_actor_types(actor: str, account_id: int, holder: str | None, expected: str) -> None:
    item = describe(Entry("login.succeeded", {}, actor=actor, account_id=account_id),
                    holder_address=holder)  # fmt: skip
    assert item.actor_label_fr == expected
    assert expected in ACTOR_LABELS.values()


def test_unknown_actions_and_odd_details_never_crash() -> None:
    item = describe(Entry("frobnicated.something", "not json {"))
    assert item.kind == "autres" and item.text_fr == "Action enregistrée (frobnicated.something)"
    for action in known_actions():
        for detail in ("", "[1,2]", '{"document": {"x": 1}, "recipients": "x", "uids": 3}', "{}"):
            assert describe(Entry(action, detail)).text_fr


HOSTILE = [
    "<script>alert(1)</script>",
    "ligne 1\r\nligne 2\nBcc: x@example.org",
    '=HYPERLINK("http://evil")',
    "\u202egnp.exe",
    "x" * 10_000,
]
_FIELDS = ["document", "new_document", "professional_id", "professional_name", "profession",
           "reason", "until", "service", "channel", "remote", "label", "name", "folder",
           "recipient", "kind", "notice", "mode", "recipients", "uids", "codes"]  # fmt: skip


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_detail_values_come_out_as_one_short_line_of_text(value: str) -> None:
    env = Environment(autoescape=True)
    page = env.from_string("<li>{{ item.text_fr }}</li>")
    for action in sorted(known_actions()):
        detail = {f: value for f in _FIELDS} | {"recipients": [value], "uids": [value]}
        item = describe(Entry(action, detail, actor=value[:254]))
        assert (
            "\n" not in item.text_fr and "\r" not in item.text_fr and "\u202e" not in item.text_fr
        )
        assert len(item.text_fr) <= 600
        html = page.render(item=item)
        assert "<script>" not in html and html.startswith("<li>") and html.endswith("</li>")


# -- reading the chain ---------------------------------------------------------------------

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
PLAN = [  # (hours after T0, action)
    (0, "login.succeeded"),
    (1, "message.received"),
    (2, "document.deposited"),
    (3, "document.viewed"),
    (4, "emergency.access_opened"),
    (5, "notification_settings.changed"),
    (6, "something.new"),
    (7, "web.logout"),
]


async def _fill(storage: Storage, account_id: int = 7) -> None:
    for hours, action in PLAN:
        async with transaction(storage.sessions) as s:
            at = T0 + timedelta(hours=hours)
            await audit.append(s, account_id=account_id, actor="gateway", action=action,
                               detail={"document": hours}, at=at)  # fmt: skip
    async with transaction(storage.sessions) as s:  # another account's entries stay out
        await audit.append(s, account_id=8, actor="x", action="login.succeeded", at=T0)


async def test_reading_newest_first_with_paging(storage: Storage) -> None:
    await _fill(storage)
    async with storage.sessions() as s:
        page1, total = await audit.read_entries(s, 7, limit=3, offset=0)
        page3, total3 = await audit.read_entries(s, 7, limit=3, offset=6)
        beyond, _ = await audit.read_entries(s, 7, limit=3, offset=30)
    assert total == total3 == len(PLAN)
    assert [e.action for e in page1] == ["web.logout", "something.new",
                                         "notification_settings.changed"]  # fmt: skip
    assert [e.action for e in page3] == ["message.received", "login.succeeded"]
    assert beyond == []


async def test_filters_by_kind_and_period(storage: Storage) -> None:
    await _fill(storage)
    async with storage.sessions() as s:
        docs, n_docs = await audit.read_entries(s, 7, kinds=["documents"])
        urgent_or_other, n_uo = await audit.read_entries(s, 7, kinds={"urgence", "autres"})
        window, n_window = await audit.read_entries(
            s, 7, since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=5)
        )
        paris = T0.astimezone(ZoneInfo("Europe/Paris"))
        same, _ = await audit.read_entries(s, 7, since=paris + timedelta(hours=7))
        both, n_both = await audit.read_entries(
            s, 7, kinds=["connexions"], since=T0 + timedelta(hours=1)
        )
        none, n_none = await audit.read_entries(s, 7, kinds=[])
        with pytest.raises(ValueError):
            await audit.read_entries(s, 7, kinds=["nope"])
    assert (n_docs, [e.action for e in docs]) == (2, ["document.viewed", "document.deposited"])
    assert [e.action for e in urgent_or_other] == ["something.new", "emergency.access_opened"]
    assert n_uo == 2
    assert n_window == 3 and [e.action for e in window][0] == "emergency.access_opened"
    assert [e.action for e in same] == ["web.logout"]  # a Paris-time bound is the same instant
    assert (n_both, [e.action for e in both]) == (1, ["web.logout"])
    assert (none, n_none) == ([], 0)
    assert {k for k, _ in KINDS} >= {"connexions", "documents", "urgence", "autres"}


async def test_chain_status_ok_then_broken_after_tampering(storage: Storage) -> None:
    await _fill(storage)
    async with storage.sessions() as s:
        assert await audit.verify_account(s, 7) == audit.ChainStatus(ok=True)
    async with transaction(storage.sessions) as s:
        await s.execute(
            update(AuditEntry)
            .where(AuditEntry.account_id == 7, AuditEntry.seq == 4)
            .values(detail='{"document":99}')
        )
    async with storage.sessions() as s:
        status = await audit.verify_account(s, 7)
        other = await audit.verify_account(s, 8)
    assert not status.ok and status.first_bad_seq == 4 and status.problems
    assert other.ok


async def test_described_entries_from_the_database(storage: Storage) -> None:
    await _fill(storage)
    async with storage.sessions() as s:
        entries, _ = await audit.read_entries(s, 7, kinds=["documents"])
    items = [describe(e) for e in entries]
    assert items[0].text_fr == "Consultation du document n° 3"
    assert items[0].at == T0 + timedelta(hours=3) and items[0].at.tzinfo is not None


# -- CSV -----------------------------------------------------------------------------------


def _items(*texts: str) -> list[ActivityItem]:
    base = describe(Entry("login.succeeded", {}, at=T0))
    return [replace(base, text_fr=t) for t in texts]


def _rows(text: str) -> list[list[str]]:
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";"))


def test_csv_quotes_and_separates_like_french_spreadsheets() -> None:
    text = activity_csv(_items('Il a dit "bonjour"; puis', "deux\r\nlignes"))
    assert text.splitlines()[0] == BOM + '"date";"type";"acteur";"description"'
    rows = _rows(text)
    assert rows[0] == ["date", "type", "acteur", "description"]
    assert rows[1] == ["2026-05-01T10:00:00+02:00", "Connexions", "Système",
                       'Il a dit "bonjour"; puis']  # fmt: skip
    assert rows[2][3] == "deux\r\nlignes"
    assert '"Il a dit ""bonjour""; puis"' in text
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_neutralises_formulas(start: str) -> None:
    (row,) = _rows(activity_csv(_items(f"{start}cmd|' /C calc'!A0")))[1:]
    assert row[3] == f"'{start}cmd|' /C calc'!A0"


def test_hostile_values_in_csv_stay_in_their_cell() -> None:
    detail = {"professional_name": '=1+1";"x\n<b>', "reason": "a" * 10_000}
    item = describe(Entry("emergency.access_opened", detail, actor="samu:1"))
    (row,) = _rows(activity_csv([item]))[1:]
    assert len(row) == 4 and row[3] == item.text_fr and "\n" not in row[3]
    assert row[3].startswith("Accès en urgence")
