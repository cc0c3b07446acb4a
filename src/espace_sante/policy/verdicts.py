"""Verdicts: the outcome of a rule, with its SMTP reply code and a French/English reason.

Each refusal has its own enhanced status code (RFC 3463) and key, so a clinician's operator (and
its support desk) can tell precisely why a message did not reach the patient.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    code: int
    enhanced: str
    reason_fr: str
    reason_en: str
    key: str

    def smtp_reply(self) -> str:
        """One reply line: ``<code> <enhanced> <French> / <English>``."""
        return f"{self.code} {self.enhanced} {self.reason_fr} / {self.reason_en}"


def _refuse(code: int, enhanced: str, key: str, fr: str, en: str) -> Verdict:
    return Verdict(False, code, enhanced, fr, en, key)


ACCEPT = Verdict(True, 250, "2.1.5", "Accepté", "OK", "ok")

# -- recipients -------------------------------------------------------------------------------
UNKNOWN_PATIENT = _refuse(
    550,
    "5.1.1",
    "unknown_patient",
    "Patient inconnu : aucun espace santé pour cette adresse",
    "Unknown patient: no health space for this address",
)
MALFORMED_ADDRESS = _refuse(
    553,
    "5.1.3",
    "malformed_address",
    "Adresse mal formée : attendu <matricule INS à 15 caractères>@domaine",
    "Malformed address: expected <15-character INS matricule>@domain",
)
BAD_INS_KEY = _refuse(
    553,
    "5.1.3",
    "bad_ins_key",
    "Adresse invalide : la clé du matricule INS est fausse",
    "Invalid address: the INS matricule key is wrong",
)
NOT_PATIENT_DOMAIN = _refuse(
    550,
    "5.1.2",
    "not_patient_domain",
    "Domaine destinataire non desservi ici (pas de relais)",
    "Recipient domain not served here (relaying denied)",
)
SPACE_CLOSED = _refuse(
    550,
    "5.2.1",
    "space_closed",
    "L'espace santé de ce patient est fermé",
    "This patient's health space is closed",
)
SPACE_OPPOSED = _refuse(
    550,
    "5.2.1",
    "space_opposed",
    "Ce patient s'est opposé à la création de son espace santé",
    "This patient objected to the creation of their health space",
)
#: A space created but not yet activated (within the six weeks to object) cannot receive mail
#: yet: a temporary refusal, so the sender's MTA retries and delivers once it is activated.
SPACE_NOT_ACTIVE = _refuse(
    450,
    "4.2.1",
    "space_not_active",
    "L'espace santé de ce patient n'est pas encore activé, réessayez plus tard",
    "This patient's health space is not activated yet, try again later",
)
TOO_MANY_RECIPIENTS = _refuse(
    452,
    "4.5.3",
    "too_many_recipients",
    "Trop de destinataires pour ce message",
    "Too many recipients for this message",
)

# -- senders ----------------------------------------------------------------------------------
SENDER_DOMAIN_NOT_TRUSTED = _refuse(
    550,
    "5.7.1",
    "sender_domain_not_trusted",
    "Expéditeur hors de l'espace de confiance MSSanté (domaine non autorisé)",
    "Sender outside the MSSanté trust space (domain not allow-listed)",
)
SENDER_NOT_IN_DIRECTORY = _refuse(
    550,
    "5.7.1",
    "sender_not_in_directory",
    "Expéditeur absent de l'annuaire des professionnels MSSanté",
    "Sender not in the MSSanté directory of professionals",
)
SENDER_NOT_PROFESSIONAL = _refuse(
    550,
    "5.7.1",
    "sender_not_professional",
    "Seul un professionnel de santé peut écrire à un patient",
    "Only a health professional may write to a patient",
)
NULL_SENDER_REFUSED = _refuse(
    550,
    "5.7.1",
    "null_sender_refused",
    "Expéditeur vide réservé aux avis de remise ou de lecture",
    "Null sender is reserved for delivery and read reports",
)
CONVERSATION_NOT_OPEN = _refuse(
    550,
    "5.7.1",
    "conversation_not_open",
    "Ce professionnel ne vous a pas écrit : vous ne pouvez que répondre",
    "This professional has not written to you: you may only reply",
)
CONVERSATION_CLOSED = _refuse(
    550,
    "5.7.1",
    "conversation_closed",
    "Le professionnel a clos cette conversation",
    "The professional closed this conversation",
)

# -- messages ---------------------------------------------------------------------------------
MESSAGE_TOO_LARGE = _refuse(
    552,
    "5.3.4",
    "message_too_large",
    "Message trop volumineux (25 Mo au plus)",
    "Message too large (25 MB at most)",
)
#: Bare CR or LF in DATA: refused outright, as Postfix does with smtpd_forbid_bare_newline,
#: because it is the vector of SMTP smuggling (CVE-2023-51764).
BARE_LINEFEED = _refuse(
    550,
    "5.5.2",
    "bare_linefeed",
    "Fin de ligne invalide (CR ou LF seul) : utilisez CRLF",
    "Invalid line ending (bare CR or LF): use CRLF",
)
MALFORMED_MESSAGE = _refuse(
    550,
    "5.6.0",
    "malformed_message",
    "Message mal formé (en-tête From absent ou multiple, ou illisible)",
    "Malformed message (From header missing, repeated or unreadable)",
)
TEMPORARY_FAILURE = _refuse(
    451,
    "4.3.0",
    "temporary_failure",
    "Erreur temporaire de stockage, réessayez plus tard",
    "Temporary storage failure, try again later",
)

# -- transport security -----------------------------------------------------------------------
STARTTLS_REQUIRED = _refuse(
    530,
    "5.7.0",
    "starttls_required",
    "Chiffrement requis : envoyez STARTTLS d'abord",
    "Must issue a STARTTLS command first",
)
CLIENT_CERT_REQUIRED = _refuse(
    530,
    "5.7.0",
    "client_cert_required",
    "Certificat client de l'espace de confiance requis",
    "A trust-space client certificate is required",
)

# -- submission (authenticated clients) -------------------------------------------------------
AUTH_REQUIRED = _refuse(
    530,
    "5.7.0",
    "auth_required",
    "Authentification requise : AUTH d'abord",
    "Authentication required",
)
AUTH_FAILED = _refuse(
    535,
    "5.7.8",
    "auth_failed",
    "Identifiants invalides",
    "Authentication credentials invalid",
)
AUTH_LOCKED = _refuse(
    454,
    "4.7.0",
    "auth_locked",
    "Trop d'échecs d'authentification, réessayez plus tard",
    "Too many failed authentications, try again later",
)
#: RFC 4954 §6 "454 4.7.0 Temporary authentication failure": too many password checks at once.
AUTH_BUSY = _refuse(
    454,
    "4.7.0",
    "auth_busy",
    "Trop de connexions en cours, réessayez plus tard",
    "Temporary authentication failure, try again later",
)
#: RFC 6409 §6.1: the envelope sender must be an address the authenticated user may use.
ENVELOPE_SENDER_MISMATCH = _refuse(
    553,
    "5.7.1",
    "envelope_sender_mismatch",
    "L'expéditeur doit être l'adresse du compte authentifié",
    "Sender address must be the authenticated account's address",
)
HEADER_FROM_MISMATCH = _refuse(
    550,
    "5.7.1",
    "header_from_mismatch",
    "L'en-tête From (ou Sender) doit être l'adresse du compte authentifié, une seule fois",
    "The From (or Sender) header must be the authenticated account's address, once",
)
PATIENT_TO_PATIENT = _refuse(
    550,
    "5.7.1",
    "patient_to_patient",
    "Un patient ne peut pas écrire à un autre patient",
    "A patient may not write to another patient",
)
RECIPIENT_OUTSIDE_TRUST_SPACE = _refuse(
    550,
    "5.1.2",
    "recipient_outside_trust_space",
    "Destinataire hors de l'espace de confiance MSSanté (domaine non autorisé)",
    "Recipient outside the MSSanté trust space (domain not allow-listed)",
)
RECIPIENT_NOT_IN_DIRECTORY = _refuse(
    550,
    "5.1.1",
    "recipient_not_in_directory",
    "Destinataire absent de l'annuaire des professionnels MSSanté",
    "Recipient not in the MSSanté directory of professionals",
)
