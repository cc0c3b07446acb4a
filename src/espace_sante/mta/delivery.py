"""Delivering one accepted message to its patients: mailbox, conversation, record, audit.

Two phases. ``prepare`` does the slow work outside any database lock: parse, compute the IMAP
metadata, open the XDM archives, and write every blob (encrypted, fsync'd). ``commit`` then writes
all rows in ONE transaction — the message in each patient's INBOX, the conversation state, the
documents, the error notices and the audit entries — and returns once the database has made it
durable. Only then does the SMTP server answer 250. If the transaction fails, the blobs written in
the first phase are removed and nothing references them.

Group commit: deliveries that become ready while a transaction is being written wait and then go
together in the next one (at most :data:`MAX_GROUP`), so that one commit — one fsync, one pass
through the SQLite write gate — serves several SMTP sessions. Each still gets its own outcome;
if a group's transaction fails, its deliveries are retried one per transaction, so a message that
cannot be stored never makes the others fail.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import cast

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from espace_sante import audit
from espace_sante.accounts.allowlist import is_domain_allowed
from espace_sante.accounts.conversations import record_professional_message_sync
from espace_sante.accounts.patients import PatientRecord
from espace_sante.accounts.professionals import national_id_sync
from espace_sante.mailbox import imapmeta
from espace_sante.mailbox.read_receipts import request_receipt
from espace_sante.mailbox.store import append_message_sync
from espace_sante.mta import notices
from espace_sante.mta.attachments import Attachment, find_attachments
from espace_sante.notify import record_arrival_sync
from espace_sante.policy import conversation as conv_rules
from espace_sante.policy import headers as mss_headers
from espace_sante.policy.record_access import normalise_visibility
from espace_sante.records import xdm
from espace_sante.records.deposit import NewDocument, deposit_documents_sync
from espace_sante.storage.blobs import StoredBlob
from espace_sante.storage.engine import write_sync
from espace_sante.storage.outbox import outbound_row
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Blob, Delivery, Folder, OutboundMessage

log = logging.getLogger(__name__)

#: Most deliveries written in one transaction.
MAX_GROUP = 32

# Rows written on the hot path go in as SQL expressions, not ORM units of work.
_BLOBS = cast(Table, Blob.__table__)
_DELIVERIES = cast(Table, Delivery.__table__)


@dataclass
class DeliveryOutcome:
    """What a delivery did, for the SMTP reply and the transaction log line."""

    delivered: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    documents: int = 0
    problems: int = 0


@dataclass
class PreparedDocument:
    document: NewDocument
    blob: StoredBlob


@dataclass
class PreparedRecipient:
    patient: PatientRecord
    message_blob: StoredBlob
    documents: list[PreparedDocument] = field(default_factory=list)
    problems: list[notices.IntegrationProblem] = field(default_factory=list)


@dataclass
class PreparedMessage:
    """Everything computed from the message before the transaction."""

    raw: bytes
    sender: str  # the professional address (header From), lower-case
    envelope_sender: str
    reply_to: str | None
    subject: str
    message_id: str | None
    sent_date: datetime | None
    closing: bool
    mss_ins: str | None
    mss_codecda: str | None
    receipt_to: str | None  # Disposition-Notification-To, when it may be honoured
    meta_json: str
    meta: imapmeta.MessageMeta
    recipients: list[PreparedRecipient]
    warnings: list[str]


class Delivering:
    """The delivery pipeline of one process."""

    def __init__(self, storage: Storage, xdm_limits: xdm.XdmLimits | None = None) -> None:
        self.storage = storage
        self.xdm_limits = xdm_limits or xdm.XdmLimits()
        self._waiting: list[tuple[PreparedMessage, datetime, asyncio.Future[DeliveryOutcome]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def deliver(
        self,
        *,
        raw: bytes,
        parsed: EmailMessage,
        envelope_sender: str,
        recipients: list[PatientRecord],
        received_at: datetime,
    ) -> DeliveryOutcome:
        """Store the message for every recipient durably, or store nothing and raise."""
        prepared = await self.prepare(raw, parsed, envelope_sender, recipients)
        try:
            return await self.commit(prepared, received_at)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(self._discard_blobs, prepared))
            raise

    async def prepare(
        self,
        raw: bytes,
        parsed: EmailMessage,
        envelope_sender: str,
        recipients: list[PatientRecord],
    ) -> PreparedMessage:
        meta = await asyncio.to_thread(imapmeta.compute_meta, raw)
        sender = first_address(parsed, "From") or envelope_sender
        reply_to = first_address(parsed, "Reply-To")
        subject = _header_text(parsed, "Subject")
        closing = conv_rules.is_closing_message(subject, _header_text(parsed, "X-MSS-MES") or None)
        attachments, warnings = find_attachments(parsed)
        receipt_to = first_address(parsed, "Disposition-Notification-To")
        keyring = self.storage.keyring
        ciphers: dict[int, AESGCM] = {}
        for r in recipients:
            if (cipher := keyring.cached(r.account_id)) is not None:
                ciphers[r.account_id] = cipher
        if receipt_to is not None or len(ciphers) < len(recipients):  # else nothing to read
            async with self.storage.sessions() as session:
                for r in recipients:
                    if r.account_id not in ciphers:
                        ciphers[r.account_id] = await self.storage.cipher_for(session, r.account_id)
                if receipt_to is not None and not await is_domain_allowed(
                    session, receipt_to.rsplit("@", 1)[-1]
                ):
                    warnings.append("read receipt asked for outside the trust space: not honoured")
                    receipt_to = None
        prepared_recipients = []
        for r in recipients:
            cipher = ciphers[r.account_id]
            blob = await self.storage.blobs.put(r.account_id, cipher, raw)
            rec = PreparedRecipient(patient=r, message_blob=blob)
            prepared_recipients.append(rec)
            await self._prepare_documents(rec, cipher, attachments, sender, subject)
        sent_date = None
        date_header = _header_text(parsed, "Date")
        if date_header:
            try:
                sent_date = parsedate_to_datetime(date_header)
                if sent_date.tzinfo is None:
                    sent_date = sent_date.replace(tzinfo=UTC)
            except (TypeError, ValueError, IndexError):
                warnings.append("unparseable Date header")
        ins_header = _header_text(parsed, "X-MSS-INS")
        ins_flag = mss_headers.parse_x_mss_ins(ins_header) if ins_header else None
        return PreparedMessage(
            raw=raw,
            sender=sender,
            envelope_sender=envelope_sender,
            reply_to=reply_to,
            subject=subject,
            message_id=(_header_text(parsed, "Message-ID") or None),
            sent_date=sent_date,
            closing=closing,
            mss_ins=None if ins_flag is None else ("O" if ins_flag else "N"),
            mss_codecda=_header_text(parsed, "X-MSS-CODECDA") or None,
            receipt_to=receipt_to,
            meta_json=imapmeta.to_json(meta),
            meta=meta,
            recipients=prepared_recipients,
            warnings=warnings,
        )

    async def _prepare_documents(
        self,
        rec: PreparedRecipient,
        cipher: object,
        attachments: list[Attachment],
        sender: str,
        subject: str,
    ) -> None:
        seen_sha1: set[str] = set()
        plain: list[Attachment] = []
        for att in attachments:
            if not xdm.is_xdm_attachment(att.filename, att.content_type):
                plain.append(att)
                continue
            try:
                package = await asyncio.to_thread(xdm.read_xdm, att.data, self.xdm_limits)
            except xdm.XdmError as exc:
                name = att.filename or "IHE_XDM.ZIP"
                rec.problems.append(
                    notices.IntegrationProblem(
                        notices.XDM_INVALID,
                        f"l'archive {name} est illisible ({exc.message_fr})",
                        f"archive {name} unreadable ({exc.code}: {exc.message})",
                    )
                )
                continue
            for doc in package.documents:
                entry = doc.entry
                if not entry.patient_ins:
                    title = entry.title or doc.path
                    rec.problems.append(
                        notices.IntegrationProblem(
                            notices.PATIENT_MISSING,
                            f"le document « {title} » n'indique pas l'INS du patient",
                            f"document '{title}' carries no patient INS",
                        )
                    )
                    continue
                if entry.patient_ins.upper() != rec.patient.ins:
                    rec.problems.append(
                        notices.IntegrationProblem(
                            notices.PATIENT_MISMATCH,
                            f"le document « {entry.title or doc.path} » concerne un autre patient "
                            "que le destinataire du message",
                            f"document '{entry.title or doc.path}' is about another patient than "
                            "the recipient",
                        )
                    )
                    continue
                blob = await self.storage.blobs.put(rec.patient.account_id, cipher, doc.content)  # type: ignore[arg-type]
                sha1 = hashlib.sha1(doc.content).hexdigest()
                seen_sha1.add(sha1)
                rec.documents.append(
                    PreparedDocument(
                        NewDocument(
                            blob_id=blob.id,
                            source="xdm",
                            title=entry.title or doc.path.rsplit("/", 1)[-1],
                            mime_type=entry.mime_type or "application/octet-stream",
                            size=len(doc.content),
                            sha1=sha1,
                            filename=doc.path.rsplit("/", 1)[-1],
                            unique_id=entry.unique_id,
                            patient_id=entry.patient_id,
                            class_code=_coded(entry.class_code),
                            type_code=_coded(entry.type_code),
                            format_code=_coded(entry.format_code),
                            author_person=entry.author_person,
                            author_institution=entry.author_institution,
                            creation_time=entry.creation_time,
                            visibility=normalise_visibility(
                                [c.code for c in entry.confidentiality_codes]
                            ),
                            author_professional_id=entry.author_person_id,
                            metadata=_entry_metadata(entry, doc),
                        ),
                        blob,
                    )
                )
        for att in plain:
            sha1 = hashlib.sha1(att.data).hexdigest()
            if sha1 in seen_sha1:
                continue  # the same document already came with its XDM metadata
            seen_sha1.add(sha1)
            blob = await self.storage.blobs.put(rec.patient.account_id, cipher, att.data)  # type: ignore[arg-type]
            rec.documents.append(
                PreparedDocument(
                    NewDocument(
                        blob_id=blob.id,
                        source="attachment",
                        title=att.filename or subject or "Pièce jointe",
                        mime_type=att.content_type,
                        size=len(att.data),
                        sha1=sha1,
                        filename=att.filename,
                        author_person=sender,
                        metadata={"inferred_from": "message", "section": att.section},
                    ),
                    blob,
                )
            )

    async def commit(self, p: PreparedMessage, received_at: datetime) -> DeliveryOutcome:
        """Write the prepared message durably (with whatever other deliveries are ready)."""
        future: asyncio.Future[DeliveryOutcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((p, received_at, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_groups())
        outcome = await future
        # Blobs of recipients that turned out to be duplicates are not referenced: remove them.
        for address in outcome.duplicates:
            rec = next(r for r in p.recipients if r.patient.address == address)
            await asyncio.to_thread(self._discard_recipient_blobs, rec)
        return outcome

    async def _write_groups(self) -> None:
        while self._waiting:
            group = self._waiting[:MAX_GROUP]
            del self._waiting[:MAX_GROUP]
            try:
                items = [(p, at) for p, at, _ in group]
                outcomes = await write_sync(
                    self.storage.sessions, functools.partial(self._write_group, items=items)
                )
            except Exception as exc:
                if len(group) == 1:
                    _, _, future = group[0]
                    if not future.done():
                        future.set_exception(exc)
                    continue
                log.warning("a group of %d deliveries failed; retrying one by one", len(group))
                for item in group:
                    await self._write_alone(*item)
                continue
            for (_, _, future), outcome in zip(group, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)

    async def _write_alone(
        self, p: PreparedMessage, at: datetime, future: asyncio.Future[DeliveryOutcome]
    ) -> None:
        try:
            (outcome,) = await write_sync(
                self.storage.sessions, functools.partial(self._write_group, items=[(p, at)])
            )
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(outcome)

    def _write_group(
        self, session: Session, items: list[tuple[PreparedMessage, datetime]]
    ) -> list[DeliveryOutcome]:
        accounts = sorted({r.patient.account_id for p, _ in items for r in p.recipients})
        if len(accounts) > 1 and session.get_bind().dialect.name == "postgresql":
            # Take the INBOX locks in account order before anything else: two workers' groups
            # locking them in delivery order deadlocked (and were retried one by one).
            session.execute(
                select(Folder.id)
                .where(Folder.account_id.in_(accounts), Folder.name == "INBOX")
                .order_by(Folder.account_id)
                .with_for_update()
            )
        return [self._write(session, p, at) for p, at in items]

    def _write(
        self, session: Session, p: PreparedMessage, received_at: datetime
    ) -> DeliveryOutcome:
        """The rows of one delivery, in the caller's transaction (run in the writer's thread)."""
        outcome = DeliveryOutcome()
        sender_id: str | None = None
        if any(
            d.document.author_professional_id is None for r in p.recipients for d in r.documents
        ):
            sender_id = national_id_sync(session, p.sender)
        for rec in p.recipients:
            account_id = rec.patient.account_id
            if p.message_id:
                already = session.execute(
                    select(Delivery.id).where(
                        Delivery.account_id == account_id,
                        Delivery.sender == p.sender,
                        Delivery.message_id_header == p.message_id[:998],
                    )
                ).scalar()
                if already is not None:
                    outcome.duplicates.append(rec.patient.address)
                    continue  # its blobs are discarded after the commit
            session.execute(
                insert(_BLOBS),
                [
                    self._blob_row(account_id, blob, received_at)
                    for blob in [rec.message_blob, *(d.blob for d in rec.documents)]
                ],
            )
            stored = append_message_sync(
                session,
                account_id=account_id,
                folder_name="INBOX",
                blob_id=rec.message_blob.id,
                size=len(p.raw),
                meta_json=p.meta_json,
                internal_date=received_at,
                message_id_header=p.message_id[:998] if p.message_id else None,
                sender=p.sender,
                subject=p.subject,
                sent_date=p.sent_date,
                mss_ins=p.mss_ins,
                mss_codecda=p.mss_codecda,
            )
            if p.message_id:
                session.execute(
                    insert(_DELIVERIES).values(
                        account_id=account_id,
                        sender=p.sender,
                        message_id_header=p.message_id[:998],
                        message_row_id=stored.row_id,
                        received_at=received_at,
                    )
                )
            state = record_professional_message_sync(
                session,
                account_id=account_id,
                professional_address=p.sender,
                closing=p.closing,
                reply_to=p.reply_to,
                at=received_at,
            )
            events = [
                audit.AuditEvent(
                    actor=p.sender,
                    action="message.received",
                    detail={
                        "uid": stored.uid,
                        "size": len(p.raw),
                        "documents": len(rec.documents),
                        "conversation": state.value,
                    },
                    at=received_at,
                )
            ]
            deposit_documents_sync(
                session,
                account_id=account_id,
                documents=[
                    _from_message(_authored(doc.document, sender_id), p.message_id)
                    for doc in rec.documents
                ],
                deposited_by=p.sender,
                message_row_id=stored.row_id,
                at=received_at,
                audit_events=events,
            )
            if p.receipt_to is not None:
                request_receipt(
                    session,
                    account_id=account_id,
                    message_row_id=stored.row_id,
                    notify_to=p.receipt_to,
                    original_message_id=p.message_id[:998] if p.message_id else None,
                    sent_date=p.sent_date,
                    at=received_at,
                )
            record_arrival_sync(
                session,
                account_id,
                at=received_at,
                messages=1,
                documents=sum(1 for d in rec.documents if not d.document.hidden_from_patient),
            )
            if rec.problems:
                session.add(self._notice_row(p, rec, received_at))
                events.append(
                    audit.AuditEvent(
                        actor="gateway",
                        action="document.rejected",
                        detail={"codes": [pr.code for pr in rec.problems]},
                        at=received_at,
                    )
                )
            audit.append_many_sync(session, account_id, events)
            outcome.delivered.append(rec.patient.address)
            outcome.documents += len(rec.documents)
            outcome.problems += len(rec.problems)
        return outcome

    @staticmethod
    def _blob_row(account_id: int, blob: StoredBlob, at: datetime) -> dict[str, object]:
        return {
            "id": blob.id,
            "account_id": account_id,
            "size": blob.size,
            "sha256": blob.sha256,
            "created_at": at,
        }

    def _notice_row(
        self, p: PreparedMessage, rec: PreparedRecipient, at: datetime
    ) -> OutboundMessage:
        settings = self.storage.settings.mssante
        raw = notices.build_error_notice(
            postmaster=settings.postmaster,
            to=p.sender,
            original=p.raw,
            original_subject=p.subject,
            original_message_id=p.message_id,
            problems=rec.problems,
            hostname=settings.hostname,
        )
        return outbound_row(
            kind="xdm_error_notice",
            mail_from="",
            rcpt_to=p.sender,
            raw=raw,
            account_id=rec.patient.account_id,
            at=at,
        )

    def _discard_blobs(self, p: PreparedMessage) -> None:
        for rec in p.recipients:
            self._discard_recipient_blobs(rec, include_message=True)

    def _discard_recipient_blobs(
        self, rec: PreparedRecipient, include_message: bool = True
    ) -> None:
        blobs = self.storage.blobs
        account = rec.patient.account_id
        if include_message:
            blobs.delete_sync(account, rec.message_blob.id)
        for doc in rec.documents:
            blobs.delete_sync(account, doc.blob.id)


def first_address(msg: EmailMessage, name: str) -> str | None:
    try:
        values = msg.get_all(name) or []
        pairs = getaddresses([str(v) for v in values])
    except Exception:
        return None
    for _, addr in pairs:
        if addr and "@" in addr:
            return addr.strip().lower()
    return None


def _header_text(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _authored(document: NewDocument, sender_id: str | None) -> NewDocument:
    """The document with the sending professional as its author when it names none."""
    if document.author_professional_id is not None or sender_id is None:
        return document
    return dataclasses.replace(document, author_professional_id=sender_id)


def _from_message(document: NewDocument, message_id: str | None) -> NewDocument:
    """The document with the Message-ID of the message it came with in its metadata (the record
    pages link a document to its message, and back, through it)."""
    if not message_id:
        return document
    return dataclasses.replace(
        document, metadata={**document.metadata, "message_id": message_id[:998]}
    )


def _coded(value: xdm.CodedValue | None) -> str | None:
    return value.code if value is not None else None


def _entry_metadata(entry: xdm.DocumentEntry, doc: xdm.XdmDocument) -> dict[str, object]:
    def coded(v: xdm.CodedValue | None) -> dict[str, str | None] | None:
        return None if v is None else {"code": v.code, "scheme": v.scheme, "display": v.display}

    def when(d: datetime | None) -> str | None:
        return d.isoformat() if d else None

    return {
        "entry_uuid": entry.entry_uuid,
        "unique_id": entry.unique_id,
        "patient_id": entry.patient_id,
        "patient_oid": entry.patient_oid,
        "source_patient_id": entry.source_patient_id,
        "class_code": coded(entry.class_code),
        "type_code": coded(entry.type_code),
        "format_code": coded(entry.format_code),
        "confidentiality_codes": [coded(c) for c in entry.confidentiality_codes],
        "healthcare_facility_type_code": coded(entry.healthcare_facility_type_code),
        "practice_setting_code": coded(entry.practice_setting_code),
        "event_codes": [coded(c) for c in entry.event_codes],
        "author_person": entry.author_person,
        "author_institution": entry.author_institution,
        "author_role": entry.author_role,
        "author_specialty": entry.author_specialty,
        "creation_time": when(entry.creation_time),
        "service_start_time": when(entry.service_start_time),
        "service_stop_time": when(entry.service_stop_time),
        "title": entry.title,
        "comments": entry.comments,
        "language_code": entry.language_code,
        "declared_hash": entry.hash,
        "declared_size": entry.size,
        "hash_ok": doc.sha1_ok,
        "size_ok": doc.size_ok,
        "path": doc.path,
    }
