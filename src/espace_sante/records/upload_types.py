"""What a patient may upload into their record, judged from the bytes themselves.

In charge of: recognising the allowed types (PDF, JPEG, PNG, TIFF, plain text, RTF — Mon espace
santé accepts pdf, txt, rtf, jpg/jpeg and tiff; we add PNG) from their content, never from the
browser's media type or the file name; refusing everything else with a reason a patient can read
(empty, too large, type not allowed, extension contradicting the content, polyglot files, text
that is not text, RTF that is not RTF); and making a file name safe to store and show
(``safe_filename``).
Not in charge of: virus scanning, storing the blob, or the document's metadata.

A file whose extension contradicts its content is refused rather than silently re-typed: the
patient picked a file that is not what its name says, and should know it.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ALLOWED_TYPES",
    "MAX_FILENAME_CHARS",
    "MAX_UPLOAD_BYTES",
    "AllowedType",
    "Sniffed",
    "UploadRefused",
    "safe_filename",
    "sniff",
]

MAX_UPLOAD_BYTES: Final = 5 * 1024 * 1024
"""Mon espace santé's limit for a patient's upload (5 MB)."""

_HEAD: Final = 1024
"""How far a polyglot's second header is looked for (PDF readers accept one that far in)."""


@dataclass(frozen=True, slots=True)
class AllowedType:
    """An uploadable type: its media type, canonical extension and accepted extensions."""

    mime_type: str
    extension: str
    extensions: frozenset[str]
    label_fr: str


PDF: Final = AllowedType("application/pdf", ".pdf", frozenset({".pdf"}), "PDF")
JPEG: Final = AllowedType("image/jpeg", ".jpg", frozenset({".jpg", ".jpeg", ".jpe"}), "JPEG")
PNG: Final = AllowedType("image/png", ".png", frozenset({".png"}), "PNG")
TIFF: Final = AllowedType("image/tiff", ".tiff", frozenset({".tif", ".tiff"}), "TIFF")
TEXT: Final = AllowedType("text/plain", ".txt", frozenset({".txt"}), "texte")
RTF: Final = AllowedType("application/rtf", ".rtf", frozenset({".rtf"}), "RTF")

ALLOWED_TYPES: Final[tuple[AllowedType, ...]] = (PDF, JPEG, PNG, TIFF, TEXT, RTF)

_ALLOWED_LIST_FR: Final = "PDF, JPEG, PNG, TIFF, texte (.txt) ou RTF"


@dataclass(frozen=True, slots=True)
class Sniffed:
    """The type found in an upload. ``extension`` has its dot (``".pdf"``); ``charset`` is set
    for plain text (``"utf-8"`` or ``"windows-1252"``)."""

    mime_type: str
    extension: str
    charset: str | None = None


class UploadRefused(ValueError):
    """An upload we do not accept: ``reason_key`` for code and tests, ``message_fr`` for the
    patient."""

    def __init__(self, reason_key: str, message_fr: str) -> None:
        super().__init__(f"{reason_key}: {message_fr}")
        self.reason_key = reason_key
        self.message_fr = message_fr


# Signatures of types we refuse outright, with the French name shown to the patient.
_REFUSED_SIGNATURES: Final[tuple[tuple[bytes, str], ...]] = (
    (b"PK\x03\x04", "archive ZIP (ou document Office)"),
    (b"PK\x05\x06", "archive ZIP"),
    (b"PK\x07\x08", "archive ZIP"),
    (b"\x7fELF", "programme"),
    (b"\xca\xfe\xba\xbe", "programme"),
    (b"\xcf\xfa\xed\xfe", "programme"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "document Office"),
    (b"Rar!", "archive RAR"),
    (b"7z\xbc\xaf\x27\x1c", "archive 7z"),
    (b"\x1f\x8b", "archive gzip"),
    (b"GIF87a", "image GIF"),
    (b"GIF89a", "image GIF"),
    (b"RIFF", "fichier RIFF (WebP, AVI, WAV)"),
    (b"%!PS", "fichier PostScript"),
)

_MARKUP_START: Final = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*<(?:!doctype|html|head|body|script|svg|\?xml|!--|[a-z][\w:-]*[\s>/])",
    re.IGNORECASE,
)
_ACTIVE_MARKUP: Final = re.compile(
    rb"<\s*(?:html|script|svg|body|iframe|object|embed|!doctype\s+html)\b", re.IGNORECASE
)
_PDF_MAGIC: Final = b"%PDF-"
_ALLOWED_TEXT_CONTROLS: Final = frozenset("\t\n\r\f\x1a")


def _extension(filename: str) -> str:
    base = safe_filename(filename)
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


def _refuse_type(what: str) -> UploadRefused:
    return UploadRefused(
        "type_not_allowed",
        f"Ce type de fichier ({what}) n'est pas accepté. Formats acceptés : {_ALLOWED_LIST_FR}.",
    )


def _binary_type(data: bytes) -> AllowedType | None:
    if data.startswith(_PDF_MAGIC):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    return None


def _decode_text(data: bytes) -> tuple[str, str]:
    if b"\x00" in data:
        raise UploadRefused(
            "text_invalid", "Ce fichier texte contient des données binaires : il n'est pas accepté."
        )
    try:
        text, charset = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        try:
            text, charset = data.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:
            raise UploadRefused(
                "text_invalid",
                "Ce fichier texte n'est ni en UTF-8 ni en Windows-1252 : il n'est pas accepté.",
            ) from None
    if any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_TEXT_CONTROLS for ch in text):
        raise UploadRefused(
            "text_invalid",
            "Ce fichier texte contient des caractères de contrôle : il n'est pas accepté.",
        )
    return text, charset


def sniff(data: bytes, filename: str, *, max_size: int = MAX_UPLOAD_BYTES) -> Sniffed:
    """The type of an upload, found from its bytes; :class:`UploadRefused` when not accepted."""
    if not data:
        raise UploadRefused("empty", "Le fichier est vide.")
    if len(data) > max_size:
        raise UploadRefused(
            "too_large",
            f"Le fichier dépasse la taille maximale de {max_size // (1024 * 1024)} Mo.",
        )
    head = data[:_HEAD]
    found = _binary_type(data)
    charset: str | None = None
    if found is None:
        if _PDF_MAGIC in head:
            raise UploadRefused(
                "polyglot",
                "Ce fichier PDF ne commence pas par son en-tête : il peut cacher un autre type de "
                "contenu et n'est pas accepté.",
            )
        for signature, what in _REFUSED_SIGNATURES:
            if data.startswith(signature):
                raise _refuse_type(what)
        if data.startswith(b"MZ") and b"\x00" in head:
            raise _refuse_type("programme Windows")
        if _MARKUP_START.match(head):
            lowered = head.lower()
            what = (
                "image SVG"
                if b"<svg" in lowered
                else ("page HTML" if b"<?xml" not in lowered[:64] else "document XML")
            )
            raise _refuse_type(what)
        if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf"):
            if not data.startswith((b"{\\rtf", b"\xef\xbb\xbf{\\rtf")):
                raise UploadRefused("rtf_invalid", "Ce fichier RTF est mal formé.")
            found = RTF
        elif _extension(filename) == ".rtf":
            raise UploadRefused(
                "rtf_invalid", "Ce fichier porte l'extension .rtf mais n'est pas un document RTF."
            )
        else:
            _text, charset = _decode_text(data)
            found = TEXT
    if _ACTIVE_MARKUP.search(head):
        raise UploadRefused(
            "polyglot",
            f"Ce fichier {found.label_fr} contient aussi du code de page web : il n'est pas "
            "accepté.",
        )
    ext = _extension(filename)
    if ext and ext not in found.extensions:
        raise UploadRefused(
            "extension_mismatch",
            f"Le nom du fichier se termine par « {ext} » mais son contenu est un fichier "
            f"{found.label_fr} : il n'est pas accepté. Renommez-le en « {found.extension} » "
            "si c'est bien le document voulu.",
        )
    return Sniffed(found.mime_type, found.extension, charset)


# --- file names ---------------------------------------------------------------------------

MAX_FILENAME_CHARS: Final = 120
_DEFAULT_STEM: Final = "document"
_WINDOWS_FORBIDDEN: Final = re.compile(r'[<>:"|?*/\\]')
_WINDOWS_RESERVED: Final = re.compile(
    r"^(?:CON|PRN|AUX|NUL|CLOCK\$|CONIN\$|CONOUT\$|COM[0-9¹²³]|LPT[0-9¹²³])$", re.IGNORECASE
)
_EXTENSION: Final = re.compile(r"\.[A-Za-z0-9]{1,10}$")


def _drop_unsafe_chars(text: str) -> str:
    # Cc: control characters (NUL...); Cf: format characters, among them the bidi overrides
    # (U+202A-U+202E, U+2066-U+2069) and zero-width marks; Zl/Zp: line/paragraph separators;
    # Cs/Co/Cn: lone surrogates, private-use and unassigned code points.
    kept = (
        " " if unicodedata.category(ch) in ("Zs", "Zl", "Zp") else ch
        for ch in text
        if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    return "".join(kept)


def safe_filename(name: str) -> str:
    """A file name safe to store and offer for download: no directory part, no control or
    bidi characters, no Windows-reserved name or character, at most 120 characters with the
    extension kept, and never empty."""
    text = unicodedata.normalize("NFC", name or "")
    text = _drop_unsafe_chars(text)
    text = posixpath.basename(text.replace("\\", "/"))
    text = _WINDOWS_FORBIDDEN.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip(" ").rstrip(".")
    match = _EXTENSION.search(text)
    ext = match.group(0) if match else ""
    stem = text[: len(text) - len(ext)].strip(" .")
    if not stem:
        stem = _DEFAULT_STEM
    if _WINDOWS_RESERVED.match(stem.split(".", 1)[0].rstrip(" ")):
        stem = "_" + stem
    stem = stem[: MAX_FILENAME_CHARS - len(ext)].rstrip(" .") or _DEFAULT_STEM
    return stem + ext
