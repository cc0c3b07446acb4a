"""Import of the MSSanté trust-space allow-list (``listeblanchemssante.xml``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from espace_sante.accounts.allowlist import (
    AllowlistFormatError,
    import_allowlist,
    is_domain_allowed,
    normalise_domain,
)
from espace_sante.cli.reference_cmds import allowlist
from espace_sante.storage.schema import AllowedDomain

Sessions = async_sessionmaker[AsyncSession]

MIPIH = "CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR"
SESAN_1 = "CN=smtp-1.sesan.santnet.com,OU=1750048886,O=GIP SESAN,ST=Paris (75),C=FR"
SESAN_2 = "CN=smtp-2.sesan.santnet.com,OU=1750048886,O=GIP SESAN,ST=Paris (75),C=FR"


def domaine(name: str, dn: str = MIPIH, description: str = "Domaine de messagerie MSSanté") -> str:
    return f"""        <Domaine>
            <Nom>{name}</Nom>
            <Description>{description}</Description>
            <DNCertificatOperateur>{dn}</DNCertificatOperateur>
            <ResponsableContact>08 10 61 50 50, contact@operateur.fr</ResponsableContact>
            <SupportContact>08 10 61 50 50, support@operateur.fr</SupportContact>
            <DateMAJ>2025-03-13T14:54:10Z</DateMAJ>
        </Domaine>
"""


def liste(entries: Sequence[str]) -> bytes:
    """A document shaped like the one the ANS publishes (declaration and root on one line)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema">\n'
        "    <DateDeGeneration>2025-03-13T14:54:10Z</DateDeGeneration>\n"
        "    <ListeDomaines>\n" + "".join(entries) + "    </ListeDomaines>\n"
        "</ListeBlancheMSSante>\n"
    ).encode()


def write(tmp_path: Path, data: bytes, name: str = "listeblanchemssante.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


async def allowed(sessions: Sessions) -> set[str]:
    async with sessions() as session:
        return set((await session.execute(select(AllowedDomain.name))).scalars())


async def test_imports_the_real_format(sessions: Sessions, tmp_path: Path) -> None:
    entries = [
        domaine("adsea29.mssante.fr"),
        # one entry per operator certificate: the same domain several times
        domaine("15-20.mssante.fr", SESAN_1),
        domaine("15-20.mssante.fr", SESAN_2),
        domaine("UC-CMP.mssante.fr"),
        # garbage seen in the published list
        domaine("sessad@ase.ditepbeziers.mssante.fr"),
        domaine("ch-demo.mssante.fr."),
    ]
    report = await import_allowlist(sessions, write(tmp_path, liste(entries)))
    assert (report.added, report.kept, report.removed) == (4, 0, 0)
    assert await allowed(sessions) == {
        "adsea29.mssante.fr",
        "15-20.mssante.fr",
        "uc-cmp.mssante.fr",
        "ch-demo.mssante.fr",
    }
    assert len(report.rejected) == 1
    rejection = report.rejected[0]
    # the declaration, root, date and list lines come first; 8 lines per Domaine
    assert rejection.line_no == 3 + 4 * 8 + 2
    assert (
        rejection.reason == "Domaine #5: invalid domain name 'sessad@ase.ditepbeziers.mssante.fr'"
    )

    async with sessions() as session:
        assert await is_domain_allowed(session, "UC-CMP.MSSante.fr")
        assert await is_domain_allowed(session, "adsea29.mssante.fr.")
        assert not await is_domain_allowed(session, "example.org")


async def test_the_list_is_authoritative(sessions: Sessions, tmp_path: Path) -> None:
    first = liste([domaine(d) for d in ("a.mssante.fr", "b.mssante.fr", "c.mssante.fr")])
    await import_allowlist(sessions, write(tmp_path, first))
    async with sessions() as session:
        stamp = await session.get(AllowedDomain, "a.mssante.fr")
        assert stamp is not None
        first_seen = stamp.imported_at

    second = liste([domaine(d) for d in ("a.mssante.fr", "c.mssante.fr", "d.mssante.fr")])
    report = await import_allowlist(sessions, write(tmp_path, second))
    assert (report.added, report.kept, report.removed, report.rejected) == (1, 2, 1, [])
    assert await allowed(sessions) == {"a.mssante.fr", "c.mssante.fr", "d.mssante.fr"}
    async with sessions() as session:
        assert not await is_domain_allowed(session, "b.mssante.fr")
        kept = await session.get(AllowedDomain, "a.mssante.fr")
        assert kept is not None and kept.imported_at == first_seen  # first listed, not rewritten

    report = await import_allowlist(sessions, write(tmp_path, second))
    assert (report.added, report.kept, report.removed) == (0, 3, 0)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE ListeBlancheMSSante [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema"><ListeDomaines>
<Domaine><Nom>&lol4;.fr</Nom></Domaine></ListeDomaines></ListeBlancheMSSante>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE ListeBlancheMSSante [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>
<ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema"><ListeDomaines>
<Domaine><Nom>&xxe;</Nom></Domaine><Domaine><Nom>ok.mssante.fr</Nom></Domaine>
</ListeDomaines></ListeBlancheMSSante>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE ListeBlancheMSSante SYSTEM "http://127.0.0.1:9/evil.dtd">
<ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema"><ListeDomaines>
<Domaine><Nom>ok.mssante.fr</Nom></Domaine></ListeDomaines></ListeBlancheMSSante>
"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>
<ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema"><ListeDomaines>
<Domaine><Nom>ok.mssante.fr</Nom></Domaine></ListeDomaines></ListeBlancheMSSante>
"""
UTF16_DTD = (
    '<?xml version="1.0" encoding="UTF-16"?>'
    '<!DOCTYPE x [<!ENTITY a "ok.mssante.fr">]>'
    '<ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema"><ListeDomaines>'
    "<Domaine><Nom>&a;</Nom></Domaine></ListeDomaines></ListeBlancheMSSante>"
).encode("utf-16")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(BILLION_LAUGHS, "DTD", id="billion-laughs"),
        pytest.param(XXE, "DTD", id="external-entity"),
        pytest.param(EXTERNAL_DTD, "DTD", id="external-dtd"),
        pytest.param(PARAMETER_ENTITY, "DTD", id="parameter-entity"),
        pytest.param(UTF16_DTD, "DTD", id="utf16-dtd"),
        # a download cut short: the closing tags are missing
        pytest.param(liste([domaine("ok.mssante.fr")])[:-40], "well-formed", id="truncated"),
        pytest.param(b"not xml at all", "well-formed", id="not-xml"),
        pytest.param(
            b"<ListeBlancheMSSante><Domaine><Nom>ok.mssante.fr</Nom></Domaine>"
            b"</ListeBlancheMSSante>",
            "namespace",
            id="no-namespace",
        ),
        pytest.param(liste([]), "no valid Domaine", id="empty-list"),
        pytest.param(liste([domaine("not a domain")]), "no valid Domaine", id="only-garbage"),
    ],
)
async def test_unusable_documents_change_nothing(
    sessions: Sessions, tmp_path: Path, data: bytes, message: str
) -> None:
    await import_allowlist(sessions, write(tmp_path, liste([domaine("kept.mssante.fr")])))
    with pytest.raises(AllowlistFormatError, match=message):
        await import_allowlist(sessions, write(tmp_path, data, "hostile.xml"))
    assert await allowed(sessions) == {"kept.mssante.fr"}


def test_entries_without_exactly_one_nom_are_reported(tmp_path: Path) -> None:
    from espace_sante.accounts.allowlist import parse_allowlist

    entries = [
        domaine("ok.mssante.fr"),
        "        <Domaine><Description>sans nom</Description></Domaine>\n",
        "        <Domaine><Nom>a.fr</Nom><Nom>b.fr</Nom></Domaine>\n",
    ]
    domains, rejected = parse_allowlist(liste(entries))
    assert domains == {"ok.mssante.fr"}
    assert [(r.line_no, r.reason) for r in rejected] == [
        (12, "Domaine #2: 0 Nom elements"),
        (13, "Domaine #3: 2 Nom elements"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ch-demo.mssante.fr", "ch-demo.mssante.fr"),
        ("  CH-Demo.MSSante.FR \n", "ch-demo.mssante.fr"),
        ("xn--hpital-bva.mssante.fr", "xn--hpital-bva.mssante.fr"),
        ("mssante.fr.", "mssante.fr"),
        ("localhost", None),
        ("sessad@ase.mssante.fr", None),
        ("-ch.mssante.fr", None),
        ("ch-.mssante.fr", None),
        ("a..mssante.fr", None),
        ("hôpital.mssante.fr", None),
        ("192.168.1.1", None),
        ("a" * 64 + ".fr", None),
        (".".join(["a" * 60] * 5), None),
        ("", None),
    ],
)
def test_domain_syntax(name: str, expected: str | None) -> None:
    assert normalise_domain(name) == expected


def test_cli_allowlist_import(cli_env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    first = write(tmp_path, liste([domaine("a.mssante.fr"), domaine("b.mssante.fr")]))
    result = runner.invoke(allowlist, ["import", str(first)], env=cli_env)
    assert result.exit_code == 0, result.output
    assert result.output == "added 2, kept 0, removed 0, rejected 0\n"

    second = write(tmp_path, liste([domaine("b.mssante.fr"), domaine("pas un domaine")]))
    result = runner.invoke(allowlist, ["import", str(second)], env=cli_env)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "added 0, kept 1, removed 1, rejected 1",
        "  line 13: Domaine #2: invalid domain name 'pas un domaine'",
    ]

    hostile = write(tmp_path, XXE, "hostile.xml")
    result = runner.invoke(allowlist, ["import", str(hostile)], env=cli_env)
    assert result.exit_code == 1
    assert "DTD" in result.output and "the allow-list was not changed" in result.output
