"""The MSSanté trust-space allow-list of domains, and the trust-space look-ups of the gateway.

The ANS publishes the list (``listeblanchemssante.xml``) as XML in the namespace
``https://listeblanche.mssante.fr/schema``::

    <ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema">
      <DateDeGeneration>2025-03-13T14:54:10Z</DateDeGeneration>
      <ListeDomaines>
        <Domaine>
          <Nom>ch-exemple.mssante.fr</Nom>
          <Description>…</Description>
          <DNCertificatOperateur>CN=…,O=…,C=FR</DNCertificatOperateur>
          …
        </Domaine>
        …

A domain appears once per operator certificate allowed to send for it, so repeated names are
normal and imported once. Only ``Nom`` is kept.

The list is authoritative: an import adds the new domains and removes those no longer listed, in
one transaction, so the gateway sees either the old list or the new one. A document that is not
well-formed, carries a DTD, or lists no valid domain at all is refused as a whole (a truncated
download must not empty the trust space). Names that are not valid host names are reported with
their line and left out. ``imported_at`` is the time of the import that first listed the domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from lxml import etree
from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.accounts.directory import (
    Rejection,
    SessionSource,
    dialect_insert,
    find_professional,
    sessions_of,
)
from espace_sante.storage.engine import transaction
from espace_sante.storage.schema import AllowedDomain

__all__ = [
    "NAMESPACE",
    "AllowlistFormatError",
    "AllowlistReport",
    "Rejection",
    "find_professional",
    "import_allowlist",
    "is_domain_allowed",
    "normalise_domain",
    "parse_allowlist",
]

NAMESPACE = "https://listeblanche.mssante.fr/schema"
#: The published list is a few MB; anything far larger is not it.
MAX_BYTES = 64 * 1024 * 1024

_TABLE = cast(Table, AllowedDomain.__table__)
_DOMAINE = f"{{{NAMESPACE}}}Domaine"
_NOM = f"{{{NAMESPACE}}}Nom"
_LDH = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


class AllowlistFormatError(ValueError):
    """The document cannot be used as the allow-list; nothing was changed."""


@dataclass
class AllowlistReport:
    added: int = 0
    kept: int = 0
    removed: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def normalise_domain(name: str) -> str | None:
    """The lower-cased host name, or None when ``name`` is not one (ASCII letters, digits and
    hyphens; at least two labels of 1–63 characters; not an IP address)."""
    domain = name.strip().lower()
    if domain.endswith("."):
        domain = domain[:-1]
    if not domain or len(domain) > 253:
        return None
    labels = domain.split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        return None
    for label in labels:
        if not 1 <= len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return None
        if not _LDH.issuperset(label):
            return None
    return domain


def parse_allowlist(data: bytes) -> tuple[set[str], list[Rejection]]:
    """The distinct valid domains of the document, and the entries left out (with their line)."""
    if len(data) > MAX_BYTES:
        raise AllowlistFormatError(f"the document is larger than {MAX_BYTES} bytes")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise AllowlistFormatError(f"not well-formed XML: {exc}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise AllowlistFormatError("the document has a DTD: refused (no DTDs or entities)")
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise AllowlistFormatError("the document uses entities: refused")
    if etree.QName(root).namespace != NAMESPACE:
        raise AllowlistFormatError(
            f"root element {etree.QName(root).localname!r} is not in the namespace {NAMESPACE}"
        )
    domains: set[str] = set()
    rejected: list[Rejection] = []
    for number, entry in enumerate(root.iter(_DOMAINE), start=1):
        names = entry.findall(_NOM)
        line = int(entry.sourceline or 0)
        if len(names) != 1:
            rejected.append(Rejection(line, f"Domaine #{number}: {len(names)} Nom elements"))
            continue
        text = _text(names[0])
        domain = normalise_domain(text)
        if domain is None:
            where = int(names[0].sourceline or line)
            rejected.append(Rejection(where, f"Domaine #{number}: invalid domain name {text!r}"))
            continue
        domains.add(domain)
    if not domains:
        raise AllowlistFormatError(
            "no valid Domaine/Nom in the document: refusing to empty the allow-list"
        )
    return domains, rejected


def _text(element: Any) -> str:
    return "".join(element.itertext())


async def import_allowlist(storage: SessionSource, path: str | Path) -> AllowlistReport:
    """Make ``allowed_domains`` exactly the list in the XML file at ``path``."""
    path = Path(path)
    if path.stat().st_size > MAX_BYTES:
        raise AllowlistFormatError(f"{path.name} is larger than {MAX_BYTES} bytes")
    domains, rejected = parse_allowlist(path.read_bytes())
    report = AllowlistReport(rejected=rejected)
    now = datetime.now(UTC)
    async with transaction(sessions_of(storage)) as session:
        existing = set((await session.execute(select(_TABLE.c.name))).scalars())
        added = sorted(domains - existing)
        removed = sorted(existing - domains)
        if added:
            insert = dialect_insert(session)(_TABLE).on_conflict_do_nothing()
            await session.execute(insert, [{"name": d, "imported_at": now} for d in added])
        for start in range(0, len(removed), 5000):
            chunk = removed[start : start + 5000]
            await session.execute(delete(_TABLE).where(_TABLE.c.name.in_(chunk)))
    report.added = len(added)
    report.removed = len(removed)
    report.kept = len(domains) - len(added)
    return report


async def is_domain_allowed(session: AsyncSession, domain: str) -> bool:
    """Is ``domain`` on the trust-space allow-list? One primary-key lookup."""
    name = domain.strip().lower().removesuffix(".")
    found = await session.execute(select(_TABLE.c.name).where(_TABLE.c.name == name))
    return found.first() is not None
