"""Import of the national MSSanté directory, the ANS file ``Extraction_Correspondance_MSSante``.

The file is published daily by the Agence du Numérique en Santé: UTF-8 text (sometimes with a BOM),
fields separated by ``|`` with no quoting, one header row, then one row per mailbox (about half a
million rows). It is also distributed as a ZIP holding that single text file; both are accepted.

Columns are found by header *name*, compared without case, accents or extra spaces, so reordered
or added columns are harmless. A row may carry trailing empty fields past the header (a trailing
``|``); any other difference in the number of fields rejects the row.

Decisions:

- **Addresses** are lower-cased entirely (local part included) and must be well-formed
  (``policy.addresses.parse_mailbox``); the gateway looks senders up lower-cased.
- **Mailbox type** must be ``PER``, ``ORG`` or ``APP``; another value rejects the row, so a
  change of the national format shows in the report instead of slipping through.
- **Duplicates**: the first row of an address wins; later rows of the same address are rejected
  ("duplicate of line N"). The real extraction carries a few hundred of them.
- **City**: ``L6LIGNEACHEMINEMENT`` ("75014 PARIS CEDEX 14") is stored without its leading postal
  code ("PARIS CEDEX 14"), which lives in ``postal_code`` (taken from the line when the postal-code
  column is empty).
- **Over-long values** of the descriptive columns are cut to the column's length.
- **Writes** go in batches of :data:`BATCH_SIZE` rows, one ``INSERT … ON CONFLICT (address) DO
  UPDATE`` (executemany) per transaction, and only for new or changed rows: existing rows are read
  once at the start and compared, which is also how ``imported``/``updated``/``unchanged`` are
  counted. An interrupted import leaves the rows of the committed batches; running it again
  completes it.
- **Rows absent from the file** are counted (``missing_from_file``) and kept, unless ``prune`` is
  asked. An address whose row was rejected for a reason other than its address (unknown type,
  duplicate) still counts as present, so pruning never deletes a mailbox only because its row was
  malformed this time.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from espace_sante.policy.addresses import parse_mailbox
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Professional

#: Rows written per statement and transaction.
BATCH_SIZE = 5000
#: Mailbox types of the national directory.
MAILBOX_TYPES = frozenset({"PER", "ORG", "APP"})

SessionSource = Storage | async_sessionmaker[AsyncSession]
Progress = Callable[[int], None]

_TABLE = cast(Table, Professional.__table__)
_BOM = b"\xef\xbb\xbf"
_LEADING_POSTAL_CODE = re.compile(r"^(\d{5})\s+(.*)$")
# A strict subset of what policy.addresses.parse_mailbox accepts, matched first because it is much
# faster; whatever it does not match gets parse_mailbox's verdict.
_PLAIN_ADDRESS = re.compile(
    r"[a-z0-9_%+'-]+(?:\.[a-z0-9_%+'-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
)


class DirectoryFormatError(ValueError):
    """The file cannot be imported at all (no header, a required column missing...)."""


@dataclass(frozen=True)
class Rejection:
    line_no: int
    reason: str


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    #: Mailboxes stored before the import that the file no longer lists.
    missing_from_file: int = 0
    #: Of those, how many were deleted (only with ``prune``).
    pruned: int = 0


@dataclass(frozen=True)
class _Column:
    attr: str  # attribute of Professional
    header: str  # the name in the ANS extraction
    aliases: tuple[str, ...] = ()


# In the order of the ANS file. All are required: a column that vanished from the national format
# would otherwise blank that field in every row on the next import.
COLUMNS: tuple[_Column, ...] = (
    _Column("mailbox_type", "Type de BAL", ("Type BAL",)),
    _Column("address", "Adresse BAL"),
    _Column("national_id", "Identification nationale PP"),
    _Column("family_name", "Nom d'exercice"),
    _Column("given_name", "Prénom d'exercice"),
    _Column("profession_code", "Code Profession"),
    _Column("profession_label", "Libellé Profession"),
    _Column("specialty_label", "Libellé savoir-faire"),
    _Column("organisation", "Raison Sociale structure BAL"),
    _Column("city", "L6LIGNEACHEMINEMENT structure BAL", ("L6LIGNEACHEMINEMENT",)),
    _Column("postal_code", "Code postal structure BAL", ("Code postal",)),
)

# The columns compared to tell an updated row from an unchanged one (all but the key).
_DATA_ATTRS: tuple[str, ...] = (
    "mailbox_type",
    "national_id",
    "family_name",
    "given_name",
    "profession_code",
    "profession_label",
    "specialty_label",
    "organisation",
    "postal_code",
    "city",
)
_MAX_LEN: dict[str, int] = {
    attr: int(getattr(_TABLE.c[attr].type, "length", None) or 10_000) for attr in _DATA_ATTRS
}


def normalise_header(name: str) -> str:
    """``"Prénom  d’exercice "`` → ``"prenom d'exercice"``: no accents, case or extra spaces."""
    decomposed = unicodedata.normalize("NFKD", name.replace("\u2019", "'"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


@dataclass(frozen=True)
class _Layout:
    width: int  # number of fields of the header (trailing empty names dropped)
    index: dict[str, int]  # attribute -> field index

    def values(self, fields: list[str], kind: str) -> tuple[str, ...]:
        """The row's values in the order of :data:`_DATA_ATTRS`, trimmed and cut to length."""
        out = {a: fields[self.index[a]].strip()[: _MAX_LEN[a]] for a in _DATA_ATTRS}
        out["mailbox_type"] = kind
        m = _LEADING_POSTAL_CODE.match(out["city"])
        if m is not None:
            out["city"] = m.group(2)
            if not out["postal_code"]:
                out["postal_code"] = m.group(1)[: _MAX_LEN["postal_code"]]
        return tuple(out[a] for a in _DATA_ATTRS)


def _layout(header_line: bytes) -> _Layout:
    if header_line.startswith(_BOM):
        header_line = header_line[len(_BOM) :]
    try:
        text = header_line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise DirectoryFormatError(f"the header row is not UTF-8: {exc}") from exc
    if not text.strip():
        raise DirectoryFormatError("the file is empty: no header row")
    names = text.split("|")
    while names and not names[-1].strip():
        names.pop()
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        positions.setdefault(normalise_header(name), []).append(i)
    index: dict[str, int] = {}
    missing: list[str] = []
    for col in COLUMNS:
        for candidate in (col.header, *col.aliases):
            found = positions.get(normalise_header(candidate))
            if found is None:
                continue
            if len(found) > 1:
                raise DirectoryFormatError(
                    f"column {candidate!r} appears {len(found)} times in the header"
                )
            index[col.attr] = found[0]
            break
        else:
            missing.append(col.header)
    if missing:
        shown = ", ".join(repr(m) for m in missing)
        raise DirectoryFormatError(
            f"missing column{'s' if len(missing) > 1 else ''} in the header: {shown} "
            "(is this an Extraction_Correspondance_MSSante file?)"
        )
    return _Layout(width=len(names), index=index)


@contextmanager
def open_extraction(path: str | Path) -> Iterator[tuple[IO[bytes], int]]:
    """The extraction as a binary stream and its size in bytes (uncompressed, for a ZIP)."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if not i.is_dir()]
            if len(members) != 1:
                raise DirectoryFormatError(
                    f"{path.name}: expected one file in the archive, found {len(members)}"
                )
            with archive.open(members[0]) as member:
                yield member, members[0].file_size
        return
    with path.open("rb", buffering=1 << 20) as f:
        yield f, path.stat().st_size


def extraction_size(path: str | Path) -> int:
    """Bytes :func:`import_directory` will read (for a progress bar)."""
    with open_extraction(path) as (_stream, size):
        return size


def _valid_address(address: str) -> bool:
    if len(address) <= 254 and address.find("@") <= 64 and _PLAIN_ADDRESS.fullmatch(address):
        return True
    return parse_mailbox(address) is not None


def sessions_of(source: SessionSource) -> async_sessionmaker[AsyncSession]:
    """The session factory of a :class:`Storage`, or the factory itself."""
    return source.sessions if isinstance(source, Storage) else source


def dialect_insert(session: AsyncSession | Session) -> Any:
    """The dialect's ``insert`` construct, the one that has ``on_conflict_do_*``."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"no upsert for the {name} dialect")


def _upsert_statement(insert: Any) -> Any:
    stmt = insert(_TABLE)
    updated = {attr: stmt.excluded[attr] for attr in (*_DATA_ATTRS, "updated_at")}
    return stmt.on_conflict_do_update(index_elements=[_TABLE.c.address], set_=updated)


async def _existing_fingerprints(factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """address -> fingerprint of its stored values.

    The fingerprint is Python's ``hash`` of the values tuple: salted per process, which is fine
    since both sides of every comparison are computed in this one call of the importer.
    """
    columns = [_TABLE.c.address, *(_TABLE.c[a] for a in _DATA_ATTRS)]
    found: dict[str, int] = {}
    async with factory() as session:
        result = await session.stream(select(*columns).execution_options(yield_per=10_000))
        async for partition in result.partitions():
            for row in partition:
                found[row[0]] = hash(tuple(row[1:]))
    return found


async def import_directory(
    storage_orsessions_of: SessionSource,
    path: str | Path,
    *,
    progress: Progress | None = None,
    prune: bool = False,
) -> ImportReport:
    """Import (or re-import) the national directory file at ``path`` into ``professionals``.

    ``progress``, when given, is called with the number of bytes read since its previous call.
    Raises :class:`DirectoryFormatError` before writing anything when the header is unusable.
    """
    factory = sessions_of(storage_orsessions_of)
    report = ImportReport()
    with open_extraction(path) as (stream, _size):
        header = stream.readline()
        layout = _layout(header)
        pending_bytes = len(header)
        existing = await _existing_fingerprints(factory)
        seen: dict[str, int] = {}  # address -> line number of the row kept
        present: set[str] = set()  # addresses listed only by rejected rows (protected from prune)
        now = datetime.now(UTC)
        batch: list[dict[str, Any]] = []
        async with factory() as probe:
            upsert = _upsert_statement(dialect_insert(probe))

        async def flush() -> None:
            nonlocal pending_bytes
            if batch:
                async with transaction(factory) as session:
                    await session.execute(upsert, batch)
                batch.clear()
            if progress is not None and pending_bytes:
                progress(pending_bytes)
            pending_bytes = 0

        width = layout.width
        i_type, i_addr = layout.index["mailbox_type"], layout.index["address"]
        reject = report.rejected.append
        line_no = 1
        for raw in stream:
            line_no += 1
            pending_bytes += len(raw)
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                reject(Rejection(line_no, f"not UTF-8 (byte {exc.start + 1})"))
                continue
            if not line.strip():
                continue
            fields = line.split("|")
            if len(fields) != width and (
                len(fields) < width or any(f.strip() for f in fields[width:])
            ):
                reject(Rejection(line_no, f"{len(fields)} fields, the header has {width}"))
                continue
            raw_address = fields[i_addr].strip()
            address = raw_address.lower()
            if not _valid_address(address):
                reason = f"malformed address {raw_address!r}" if raw_address else "empty address"
                reject(Rejection(line_no, reason))
                continue
            first = seen.get(address)
            if first is not None:
                reject(Rejection(line_no, f"duplicate address {address} (line {first} kept)"))
                continue
            kind = fields[i_type].strip().upper()
            if kind not in MAILBOX_TYPES:
                present.add(address)
                reject(Rejection(line_no, f"unknown Type de BAL {fields[i_type].strip()!r}"))
                continue
            seen[address] = line_no

            values = layout.values(fields, kind)
            before = existing.get(address)
            if before is None:
                report.imported += 1
            elif before == hash(values):
                report.unchanged += 1
                continue
            else:
                report.updated += 1
            row: dict[str, Any] = dict(zip(_DATA_ATTRS, values, strict=True))
            row["address"] = address
            row["updated_at"] = now
            batch.append(row)
            if len(batch) >= BATCH_SIZE:
                await flush()
        await flush()

    missing = [a for a in existing if a not in seen and a not in present]
    report.missing_from_file = len(missing)
    if prune and missing:
        for start in range(0, len(missing), BATCH_SIZE):
            chunk = missing[start : start + BATCH_SIZE]
            async with transaction(factory) as session:
                await session.execute(delete(_TABLE).where(_TABLE.c.address.in_(chunk)))
        report.pruned = len(missing)
    return report


async def find_professional(session: AsyncSession, address: str) -> Professional | None:
    """The directory entry of ``address`` (compared lower-cased), one primary-key lookup."""
    found = await session.execute(
        select(Professional).where(Professional.address == address.strip().lower())
    )
    return found.scalar_one_or_none()
