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
    Mentions,
    describe,
    known_actions,
    mentions,
    professional_label,
    undisclosed,
)
from espace_sante.audit.export import BOM, activity_csv
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AuditEntry

SRC = Path(__file__).resolve().parents[2] / "src" / "espace_sante"
_ACTION_SHAPE = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
_WRITERS = {"append", "append_many", "append_sync", "AuditEvent", "_audit"}


def _strings(node: ast.AST) -> set[str]:
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and _ACTION_SHAPE.match(n.value)
    }


def _action_positions(tree: ast.AST) -> dict[str, int]:
    """The module's functions taking an ``action`` parameter, and its position."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
            if "action" in names:
                found[node.name] = names.index("action")
    return found


def actions_written_in_src() -> set[str]:
    """Every audit action the code can write: ``action=`` arguments, the action argument of
    ``AuditEvent(...)`` / ``_audit(...)`` calls and of any function of the module taking an
    ``action`` parameter (``records.changes._set_codes``…), values assigned to a variable
    ``action`` and the values of tables named ``*_ACTIONS`` (``records.access._READ_ACTIONS``)."""
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        positions = _action_positions(tree)
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
                index = positions.get(name)
                if index is not None and index < len(node.args):
                    found |= _strings(node.args[index])
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name) and (t.id == "action" or t.id.endswith("ACTIONS")):
                        found |= _strings(node.value)
    return found


def test_the_scan_finds_the_actions_we_know_of() -> None:
    found = actions_written_in_src()
    for action in ("login.failed", "login.locked", "web.logout", "web.session.expired",
                   "outbound.failed", "outbound.expired", "message.received",
                   "notification.skipped", "notification_settings.changed",
                   "document.made_visible", "document.listed", "document.metadata_read",
                   "document.viewed", "record.listed", "authorisation.granted",
                   "emergency.access_opened", "web.space_opened"):  # fmt: skip
        assert action in found, action


def test_every_action_written_in_src_has_a_french_description() -> None:
    missing = actions_written_in_src() - known_actions()
    assert not missing, f"add these to audit/activity_catalogue.py: {sorted(missing)}"


def test_the_catalogue_describes_only_what_the_code_writes() -> None:
    stale = known_actions() - actions_written_in_src()
    assert not stale, f"nothing writes these any more: {sorted(stale)}"


@dataclass
class Entry:
    action: str
    detail: Any
    actor: str = "gateway"
    account_id: int = 7
    at: datetime = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)


PRO = "810001234567"
DUPONT = {PRO: "Dr Jean DUPONT (médecin)"}
ME = "2800175123456@patient.mssante.fr"
PARENT = "1750269123123@patient.mssante.fr"


def _say(action: str, detail: dict[str, Any], actor: str, **kw: Any) -> ActivityItem:
    return describe(Entry(action, detail, actor=actor), holder_address=ME, **kw)


def test_a_professional_viewing_a_document_as_records_writes_it() -> None:
    detail = {"document": 12, "operation": "view", "reason": "authorised", "emergency": False,
              "first_access": True}  # fmt: skip
    item = _say("document.viewed", detail, f"ps:{PRO}")
    assert item.kind == "documents" and item.actor_label_fr == "Un professionnel de santé"
    assert item.document_id == 12
    assert item.text_fr == (
        f"Consultation d'un document par un professionnel de santé (identifiant {PRO}) "
        "(premier accès à votre dossier)"
    )
    named = _say("document.viewed", detail, f"ps:{PRO}", professionals=DUPONT)
    assert named.actor_label_fr == "Dr Jean DUPONT (médecin)"
    assert named.text_fr.startswith("Consultation d'un document par Dr Jean DUPONT (médecin)")
    assert mentions(Entry("document.viewed", detail, actor=f"ps:{PRO}")) == Mentions(
        12, frozenset({PRO})
    )


def test_the_grounds_of_a_professionals_access() -> None:
    attending = {"document": 1, "operation": "download", "reason": "attending_physician",
                 "emergency": False}  # fmt: skip
    assert _say("document.downloaded", attending, f"ps:{PRO}", professionals=DUPONT).text_fr == (
        "Téléchargement d'un document par Dr Jean DUPONT (médecin) en tant que médecin traitant"
    )
    listed = {"operation": "list", "total": 3, "documents": [1, 2, 3], "reason": "emergency",
              "emergency": True}  # fmt: skip
    item = _say("record.listed", listed, f"ps:{PRO}", professionals=DUPONT)
    assert item.kind == "acces_professionnels" and item.document_id is None
    assert item.text_fr == (
        "Consultation de la liste des documents de votre dossier par Dr Jean DUPONT (médecin) "
        "en urgence"
    )
    assert "3" not in item.text_fr  # no count: it could reveal documents hidden from the viewer


def test_refusals_say_why_in_french() -> None:
    refused = {"document": 5, "operation": "view", "reason": "masked", "emergency": False}
    assert _say("document.access_refused", refused, f"ps:{PRO}", professionals=DUPONT).text_fr == (
        "Accès refusé à la consultation d'un document pour Dr Jean DUPONT (médecin) : vous avez "
        "masqué ce document aux professionnels"
    )
    record = {"operation": "list", "total": 0, "documents": [], "reason": "not_authorised",
              "emergency": False}  # fmt: skip
    assert _say("record.access_refused", record, f"ps:{PRO}").text_fr == (
        f"Accès à votre dossier refusé à un professionnel de santé (identifiant {PRO}) : vous ne "
        "l'avez pas autorisé à consulter votre dossier"
    )


def test_break_glass_shows_its_reason_and_end() -> None:
    detail = {"grant": 4, "kind": "break_glass",
              "stated_reason": "Patient inconscient aux urgences",
              "expires_at": "2026-07-01T10:00:00+00:00", "emergency": True}  # fmt: skip
    item = _say("emergency.access_opened", detail, f"ps:{PRO}", professionals=DUPONT)
    assert item.kind == "urgence" and item.actor_label_fr == "Dr Jean DUPONT (médecin)"
    assert item.text_fr == (
        "Accès en urgence (bris de glace) à votre dossier par Dr Jean DUPONT (médecin) : motif "
        "« Patient inconscient aux urgences » (jusqu'au 01/07/2026 à 12:00)"
    )
    refused = {"kind": "samu", "reason": "emergency_refused", "stated_reason": "Appel au 15"}
    assert _say("emergency.access_refused", refused, f"ps:{PRO}", professionals=DUPONT).text_fr == (
        "Accès en urgence (régulation du SAMU) refusé à Dr Jean DUPONT (médecin) : vous vous "
        "êtes opposé à l'accès en urgence"
    )
    assert _say(
        "emergency.access_ended", {"grant": 4}, f"ps:{PRO}", professionals=DUPONT
    ).text_fr == ("Fin de l'accès en urgence de Dr Jean DUPONT (médecin) à votre dossier")


def test_authorisations_name_the_professional_concerned() -> None:
    by_me = _say("authorisation.granted", {"professional": PRO, "via": "patient"}, ME,
                 professionals=DUPONT)  # fmt: skip
    assert by_me.actor_label_fr == "Vous"
    assert by_me.text_fr == (
        "Autorisation d'accès à votre dossier donnée à Dr Jean DUPONT (médecin) par vous"
    )
    declared = _say("authorisation.granted", {"professional": PRO, "via": "consultation"},
                    f"ps:{PRO}", professionals=DUPONT)  # fmt: skip
    assert declared.text_fr == (
        "Dr Jean DUPONT (médecin) a déclaré votre accord, donné lors d'une consultation, pour "
        "accéder à votre dossier"
    )
    blocked = _say("authorisation.blocked", {"professional": PRO}, PARENT)
    assert blocked.actor_label_fr == "Votre représentant légal"
    assert blocked.text_fr == (
        f"Blocage de l'accès d'un professionnel de santé (identifiant {PRO}) à votre dossier "
        "par votre représentant légal"
    )
    refused = _say("authorisation.block_refused",
                   {"professional": PRO, "reason": "attending_not_blockable"}, ME,
                   professionals=DUPONT)  # fmt: skip
    assert refused.text_fr == (
        "Blocage de Dr Jean DUPONT (médecin) refusé : votre médecin traitant ne peut pas être "
        "bloqué"
    )
    attending = _say("attending_physician.set", {"professional": PRO, "previous": None}, ME,
                     professionals=DUPONT)  # fmt: skip
    assert (
        attending.text_fr
        == "Désignation de votre médecin traitant : Dr Jean DUPONT (médecin) par vous"
    )
    cleared = _say("attending_physician.cleared", {"professional": None, "previous": PRO}, ME)
    assert cleared.text_fr == "Fin de la désignation de votre médecin traitant par vous"


def test_documents_as_the_record_store_writes_them() -> None:
    deposit = {"document": 9, "source": "xdm", "class_code": "11", "type_code": "60591-5",
               "visibility": [], "category": "synthese"}  # fmt: skip
    item = _say("document.deposited", deposit, "dr.dupont@medecin.mssante.fr")
    assert item.document_id == 9 and item.actor_label_fr == "Un professionnel de santé"
    assert item.text_fr == (
        "Dépôt d'un document dans votre dossier par dr.dupont@medecin.mssante.fr (reçu par "
        "messagerie sécurisée)"
    )
    upload = {"document": 3, "category": "ordonnances", "type_code": None, "size": 10,
              "uploaded_by": 8}  # fmt: skip
    assert _say("document.uploaded", upload, PARENT).text_fr == (
        "Ajout d'un document à votre dossier par votre représentant légal"
    )
    assert _say("document.masked", {"document": 3, "visibility": ["MASQUE_PS"]}, ME).text_fr == (
        "Masquage d'un document aux professionnels de santé par vous"
    )
    visible = _say("document.made_visible", {"document": 4, "visibility": []}, f"ps:{PRO}",
                   professionals=DUPONT)  # fmt: skip
    assert (
        visible.text_fr == "Document rendu visible dans votre dossier par Dr Jean DUPONT (médecin)"
    )
    replaced = _say("document.replaced", {"document": 3, "replacement": 11}, ME)
    assert replaced.document_id == 11  # the link goes to the new version
    assert (
        _say("document.archived", {"document": 3}, ME).text_fr == "Archivage d'un document par vous"
    )
    for one in (item, replaced, visible):
        assert "n°" not in one.text_fr  # the page links the document, the sentence never names it


def test_entries_written_by_a_guardian_say_so() -> None:
    opened = {"dependant": 7, "guardian": 3}
    on_child = describe(Entry("web.space_opened", opened, actor=PARENT, account_id=7),
                        holder_address=ME)  # fmt: skip
    assert on_child.actor_label_fr == "Votre représentant légal"
    assert on_child.text_fr == "Ouverture de votre espace santé par votre représentant légal"
    on_parent = describe(Entry("web.space_opened", opened, actor=PARENT, account_id=3),
                         holder_address=PARENT)  # fmt: skip
    assert on_parent.actor_label_fr == "Vous"
    assert on_parent.text_fr == "Ouverture de l'espace santé d'une personne que vous représentez"
    mail = describe(Entry("mailbox.guardian_login", {"service": "imap"}, actor="account:3"))
    assert mail.actor_label_fr == "Votre représentant légal"
    assert (
        mail.text_fr == "Connexion de votre représentant légal à votre messagerie (messagerie IMAP)"
    )


def test_settings_and_notices_as_notify_writes_them() -> None:
    saved = {"new_message": False, "new_document": True, "first_professional_access": True,
             "emergency_access": True, "channel_email": True, "channel_sms": True,
             "changed": ["new_message", "channel_sms"]}  # fmt: skip
    assert _say("notification_settings.changed", saved, "account:7").text_fr == (
        "Modification de vos préférences de notification par vous (nouveaux messages : non ; "
        "par SMS : oui)"
    )
    access = {"notice": "emergency", "recipients": 2, "sms": 1}
    assert _say("notification.queued", access, "notify").text_fr == (
        "Avis d'un accès en urgence à votre dossier envoyé par courriel (2 destinataires) et par "
        "SMS (1 numéro)"
    )
    batch = {"messages": 1, "documents": 2, "recipients": 1}
    assert _say("notification.queued", batch, "notify").text_fr == (
        "Avis de nouveautés dans votre espace envoyé par courriel (1 destinataire)"
    )
    skipped = {"messages": 1, "documents": 0, "recipients": 0, "reason": "settings"}
    assert _say("notification.skipped", skipped, "notify").text_fr == (
        "Aucun avis envoyé (vos préférences de notification ne le prévoient pas)"
    )


def test_the_directory_name_of_a_professional() -> None:
    assert professional_label("DUPONT", "Jean", "10", "Médecin") == "Dr Jean DUPONT (médecin)"
    assert professional_label("Durand", "Anne", "60", "Infirmier") == "Anne DURAND (infirmier)"
    assert professional_label("", "", "10", "Médecin") == ""


@pytest.mark.parametrize("value", [2**70, -1, 0, True, "12a", "٣", "1" * 30, None, [1], {"x": 1}])
def test_odd_document_ids_name_no_document(value: object) -> None:
    assert mentions(Entry("document.viewed", {"document": value})).document_id is None
    assert mentions(Entry("document.viewed", {"document": "42"})).document_id == 42


def test_a_hidden_document_shows_nothing_of_itself() -> None:
    item = _say("document.deposited", {"document": 9, "source": "xdm"}, f"ps:{PRO}",
                professionals=DUPONT)  # fmt: skip
    hidden = undisclosed(item)
    assert hidden.text_fr == "Activité sur un document non consultable"
    assert hidden.actor_label_fr == "Non communiqué" and hidden.document_id is None
    assert hidden.at == item.at and hidden.kind == item.kind


@pytest.mark.parametrize(
    ("actor", "account_id", "holder", "expected"),
    [
        ("account:7", 7, None, "Vous"),
        ("account:3", 7, None, "Votre représentant légal"),
        ("2800175123456@patient.mssante.fr", 7, None, "Vous"),
        ("1750269123123@patient.mssante.fr", 7, "2800175123456@patient.mssante.fr",
         "Votre représentant légal"),
        ("dr.dupont@medecin.mssante.fr", 7, None, "Un professionnel de santé"),
        ("ps:810001234567", 7, None, "Un professionnel de santé"),
        ("facility:750000001", 7, None, "Un établissement de santé"),
        ("service:agenda", 7, None, "Un service référencé"),
        ("anonymous", 7, None, "Une personne non identifiée"),
        ("gateway", 7, None, "Le service espace santé"),
        ("cli", 7, None, "Le service espace santé"),
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
_FIELDS = ["document", "replacement", "professional", "via", "operation", "reason",
           "stated_reason", "expires_at", "until", "source", "service", "channel", "remote",
           "label", "name", "folder", "recipient", "kind", "notice", "recipients", "uids",
           "codes", "changed", "dependant"]  # fmt: skip


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_detail_values_come_out_as_one_short_line_of_text(value: str) -> None:
    env = Environment(autoescape=True)
    page = env.from_string("<li>{{ item.text_fr }}</li>")
    for action in sorted(known_actions()):
        detail = {f: value for f in _FIELDS} | {"recipients": [value], "uids": [value]}
        item = describe(Entry(action, detail, actor=value[:254]),
                        professionals={value: value})  # fmt: skip
        item2 = describe(Entry(action, detail, actor=f"ps:{value[:200]}"))
        assert "\n" not in item2.text_fr and "\u202e" not in item2.actor_label_fr
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
    assert items[0].text_fr == "Consultation d'un document"  # the gateway: no « par … »
    assert items[0].document_id == 3 and items[0].seq == 4
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
    assert rows[1] == ["2026-05-01T10:00:00+02:00", "Connexions", "Le service espace santé",
                       'Il a dit "bonjour"; puis']  # fmt: skip
    assert rows[2][3] == "deux\r\nlignes"
    assert '"Il a dit ""bonjour""; puis"' in text
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_neutralises_formulas(start: str) -> None:
    (row,) = _rows(activity_csv(_items(f"{start}cmd|' /C calc'!A0")))[1:]
    assert row[3] == f"'{start}cmd|' /C calc'!A0"


def test_hostile_values_in_csv_stay_in_their_cell() -> None:
    detail = {"professional": '=1+1";"x\n<b>', "stated_reason": "a" * 10_000}
    item = describe(Entry("emergency.access_opened", detail, actor="ps:1"))
    (row,) = _rows(activity_csv([item]))[1:]
    assert len(row) == 4 and row[3] == item.text_fr and "\n" not in row[3]
    assert row[3].startswith("Accès en urgence")
