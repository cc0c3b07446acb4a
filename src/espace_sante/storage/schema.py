"""The relational schema, one metadata for Alembic.

Every row that belongs to a person carries ``account_id`` (DESIGN.md, "account-keyed data"), so a
distributed PostgreSQL (Citus) can shard these tables by account without a rewrite.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only gives AUTOINCREMENT semantics to INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Account(Base):
    """A person or mailbox holder: patient, professional hosted here, or operator."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # patient | professional | operator
    address: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16))  # created | active | opposed | closed
    personal_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AppPassword(Base):
    """A password for one mail client of an account (IMAP, submission), revocable on its own."""

    __tablename__ = "app_passwords"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, PHC string
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginThrottle(Base):
    """Recent failed logins of one account, and the lock they caused."""

    __tablename__ = "login_throttle"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebCredential(Base):
    """A patient's web password and second-factor contact (set at activation)."""

    __tablename__ = "web_credentials"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, PHC string
    mobile_phone: Mapped[str | None] = mapped_column(String(20), nullable=True)  # E.164
    code_channel: Mapped[str] = mapped_column(String(8))  # email | sms
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ActivationCode(Base):
    """A provisional activation code (hashed), single use, expiring."""

    __tablename__ = "activation_codes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebSession(Base):
    """A browser session: only the SHA-256 of its random id is kept."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    stage: Mapped[str] = mapped_column(String(16))  # activation | code | authenticated
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    remote: Mapped[str] = mapped_column(String(64), default="")
    #: The dependant whose space a guardian switched to (migration 0008), else NULL.
    acting_for_account_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class LoginCode(Base):
    """A one-time login code (hashed) sent for one pending web session."""

    __tablename__ = "login_codes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    web_session_id: Mapped[int] = mapped_column(ForeignKey("web_sessions.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(8))  # email | sms
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Patient(Base):
    """A patient's identity (INS and its five traits)."""

    __tablename__ = "patients"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    ins: Mapped[str] = mapped_column(String(15))
    ins_oid: Mapped[str] = mapped_column(String(64))
    identity_status: Mapped[str] = mapped_column(String(16), default="qualified")
    family_name: Mapped[str] = mapped_column(String(100))
    given_names: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    birthplace: Mapped[str] = mapped_column(String(5))
    __table_args__ = (UniqueConstraint("ins", name="uq_patients_ins"),)


class Guardianship(Base):
    """A guardian's right to act for a dependant's space (the row belongs to the dependant)."""

    __tablename__ = "guardianships"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    guardian_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    __table_args__ = (
        UniqueConstraint("account_id", "guardian_account_id", name="uq_guardianships_pair"),
    )


class Professional(Base):
    """One mailbox of the national MSSanté directory (extraction_correspondance_mssante)."""

    __tablename__ = "professionals"
    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    mailbox_type: Mapped[str] = mapped_column(String(16), default="")  # PER, ORG, APP
    national_id: Mapped[str] = mapped_column(String(32), default="")  # RPPS/ADELI (with prefix)
    family_name: Mapped[str] = mapped_column(String(100), default="")
    given_name: Mapped[str] = mapped_column(String(100), default="")
    profession_code: Mapped[str] = mapped_column(String(8), default="")
    profession_label: Mapped[str] = mapped_column(String(120), default="")
    specialty_label: Mapped[str] = mapped_column(String(200), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AllowedDomain(Base):
    """A domain of the MSSanté trust-space allow-list."""

    __tablename__ = "allowed_domains"
    name: Mapped[str] = mapped_column(String(253), primary_key=True)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Conversation(Base):
    """The state of the exchange between a patient and one professional address."""

    __tablename__ = "conversations"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    professional_address: Mapped[str] = mapped_column(String(254), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))  # open | closed
    reply_to: Mapped[str | None] = mapped_column(String(254), nullable=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_message_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    message_count: Mapped[int] = mapped_column(Integer, default=0)


class Blob(Base):
    """An encrypted file in the blob store, owned by one account."""

    __tablename__ = "blobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When the last message using it was expunged: the file stays readable by the IMAP sessions
    # that still show the message, and a sweep deletes it some time later (mailbox.imap.mailstore).
    orphaned_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )


class Folder(Base):
    """An IMAP mailbox (folder) of an account."""

    __tablename__ = "folders"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(255))
    special_use: Mapped[str | None] = mapped_column(String(16), nullable=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uidnext: Mapped[int] = mapped_column(BigInteger, default=1)
    highest_modseq: Mapped[int] = mapped_column(BigInteger, default=1)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    # The lowest UID still \Recent: no session has selected the folder since it arrived
    # (RFC 3501 §2.3.2); a read-write SELECT moves it past the messages it sees.
    first_recent_uid: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_folders_account_name"),)


class Message(Base):
    """A message in a folder, with the IMAP metadata computed once at delivery."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id"))
    uid: Mapped[int] = mapped_column(BigInteger)
    modseq: Mapped[int] = mapped_column(BigInteger)
    flags: Mapped[str] = mapped_column(Text, default="")  # space-separated, e.g. "\\Seen $MDNSent"
    internal_date: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    size: Mapped[int] = mapped_column(BigInteger)
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id"))
    meta: Mapped[str] = mapped_column(Text)  # JSON of mailbox.imapmeta.MessageMeta
    message_id_header: Mapped[str | None] = mapped_column(String(998), nullable=True)
    sender: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    sent_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    mss_ins: Mapped[str | None] = mapped_column(String(1), nullable=True)
    mss_codecda: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (
        UniqueConstraint("folder_id", "uid", name="uq_messages_folder_uid"),
        Index("ix_messages_account_folder_modseq", "account_id", "folder_id", "modseq"),
    )


class Delivery(Base):
    """One accepted delivery; makes a repeated Message-ID from the same sender a no-op."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    sender: Mapped[str] = mapped_column(String(254))
    message_id_header: Mapped[str] = mapped_column(String(998))
    message_row_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        UniqueConstraint(
            "account_id", "sender", "message_id_header", name="uq_deliveries_account_sender_mid"
        ),
    )


class Document(Base):
    """A document of the patient's record (DMP), with its XDS-style metadata (migration 0006:
    status, version chain, visibility codes, category, author, archive flag)."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id"))
    source: Mapped[str] = mapped_column(String(16))  # xdm | attachment | upload
    message_row_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    unique_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    mime_type: Mapped[str] = mapped_column(String(128), default="application/octet-stream")
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha1: Mapped[str] = mapped_column(String(40))
    patient_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    class_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    type_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    format_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    metadata_json: Mapped[dict] = mapped_column(JSON, default=dict)
    author_person: Mapped[str | None] = mapped_column(String(300), nullable=True)
    author_institution: Mapped[str | None] = mapped_column(String(300), nullable=True)
    creation_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    deposited_by: Mapped[str] = mapped_column(String(254), default="")
    deposited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # -- the record's own state (migration 0006) ------------------------------------------------
    #: approved | deprecated | superseded (JDV_J52; superseded when a newer version replaces it).
    status: Mapped[str] = mapped_column(String(16), default="approved", server_default="approved")
    #: The older version this document replaces (the version chain; XDS RPLC).
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), nullable=True)
    #: TRE_A07 visibility codes, sorted and space-separated ("" when none).
    visibility: Mapped[str] = mapped_column(String(200), default="", server_default="")
    #: The patient-facing category key (``records.codes.category_of``).
    category: Mapped[str] = mapped_column(String(32), default="autres", server_default="autres")
    #: National id (RPPS/ADELI, as the directory keeps it) of the authoring professional, if known.
    author_professional_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: The patient's or guardian's account that uploaded it (patient uploads only).
    uploaded_by_account_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_documents_account_deposited_at", "account_id", "deposited_at"),
        Index("ix_documents_account_category", "account_id", "category"),
        Index("ix_documents_replaces_id", "replaces_id"),
    )


class RecordProfessional(Base):
    """One professional's standing with one record: authorised, blocked or neither, and when
    they last looked."""

    __tablename__ = "record_professionals"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    professional_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="none")  # authorised | blocked | none
    authorised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: patient | consultation (declared by the professional at a consultation).
    authorised_via: Mapped[str | None] = mapped_column(String(16), nullable=True)
    blocked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    changed_by: Mapped[str] = mapped_column(String(254), default="")
    first_access_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_access_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RecordSettings(Base):
    """A record's attending physician and emergency consents (each allowed unless refused)."""

    __tablename__ = "record_settings"
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id"), primary_key=True, autoincrement=False
    )
    attending_physician_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    attending_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    consent_samu: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    consent_break_glass: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    consent_masked_in_emergency: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true()
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EmergencyGrant(Base):
    """An emergency access to a record (break-glass or SAMU), limited in time."""

    __tablename__ = "emergency_grants"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    professional_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # break_glass | samu
    reason: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OutboundMessage(Base):
    """A message waiting in the outbound queue (error notices now, replies and DSNs later)."""

    __tablename__ = "outbound_queue"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(32))  # xdm_error_notice | reply | dsn | mdn
    mail_from: Mapped[str] = mapped_column(String(254))
    rcpt_to: Mapped[str] = mapped_column(String(254))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # -- delivery state (migration 0004) -------------------------------------------------------
    # status: queued -> sending (claimed, leased) -> delivered | failed (5xx) | expired (lifetime)
    #: Destination domain of ``rcpt_to``, for per-domain limits (NULL on rows written before 0004).
    domain: Mapped[str | None] = mapped_column(String(253), nullable=True)
    #: The worker holding the row while ``status`` is ``sending``, and until when.
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: The last SMTP reply of the peer ("451 4.4.1"), and the host that gave it.
    last_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    remote_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: A delivery status notification was queued for the sender (failed / expired rows).
    dsn_sent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    __table_args__ = (
        Index("ix_outbound_queue_status_next_attempt_at", "status", "next_attempt_at"),
    )


class AuditHead(Base):
    """The head of one account's audit chain (account 0 is the system's chain)."""

    __tablename__ = "audit_heads"
    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """An append-only, hash-chained activity log entry."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (
        UniqueConstraint("account_id", "seq", name="uq_audit_log_account_seq"),
        # the activity history: one account's entries by time, newest first (migration 0007)
        Index("ix_audit_log_account_at", "account_id", "at"),
    )


class PendingNotification(Base):
    """New items not yet announced to a patient's personal inbox (one row per account, so that
    what arrives within the batching window makes a single notice)."""

    __tablename__ = "pending_notifications"
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id"), primary_key=True, autoincrement=False
    )
    first_event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    messages: Mapped[int] = mapped_column(Integer, default=0)
    documents: Mapped[int] = mapped_column(Integer, default=0)


class ReadReceiptRequest(Base):
    """A read receipt (RFC 8098 MDN) asked for by a message's Disposition-Notification-To:
    requested at delivery, due when the patient first reads the message, sent once."""

    __tablename__ = "read_receipt_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    message_row_id: Mapped[int] = mapped_column(BigInteger)
    notify_to: Mapped[str] = mapped_column(String(254))
    original_message_id: Mapped[str | None] = mapped_column(String(998), nullable=True)
    sent_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # requested | due | sent
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    __table_args__ = (
        UniqueConstraint("account_id", "message_row_id", name="uq_read_receipt_requests_message"),
    )


class NotificationSettingsRow(Base):
    """Which notices a patient wants, and where (migration 0007). No row: the defaults of
    ``notify.settings`` (every notice on, by e-mail)."""

    __tablename__ = "notification_settings"
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id"), primary_key=True, autoincrement=False
    )
    new_message: Mapped[bool] = mapped_column(Boolean)
    new_document: Mapped[bool] = mapped_column(Boolean)
    first_professional_access: Mapped[bool] = mapped_column(Boolean)
    emergency_access: Mapped[bool] = mapped_column(Boolean)
    channel_email: Mapped[bool] = mapped_column(Boolean)
    channel_sms: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class QueuedSms(Base):
    """A short notice waiting for the SMS gateway (migration 0007): written in the transaction
    that caused it, sent after the commit by the periodic work, so a rolled-back access sends
    nothing. The text never carries health data."""

    __tablename__ = "sms_queue"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    text: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
