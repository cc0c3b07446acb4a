"""CDA R2 documents for the record's tests, written for this project.

Their shapes follow the French CI-SIS content models (a biology report with a results table, a
medical summary with nested sections, a vaccination note, a document with a non-XML body) but
every value, name and identifier is invented.
"""

from __future__ import annotations

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <id root="1.2.250.1.999.1.1" extension="{doc_id}"/>
  <code code="{code}" codeSystem="2.16.840.1.113883.6.1" displayName="{display}"/>
  <title>{title}</title>
  <effectiveTime value="{time}"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="fr-FR"/>
  <recordTarget>
    <patientRole>
      <id root="1.2.250.1.213.1.4.10" extension="277076322082910"/>
      <patient>
        <name>
          <given>Camille</given>
          <given>Anne</given>
          <family qualifier="BR">Lefèvre</family>
          <family qualifier="SP">Moreau</family>
        </name>
        <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
        <birthTime value="19770723"/>
      </patient>
    </patientRole>
  </recordTarget>
  <author>
    <time value="{time}"/>
    <assignedAuthor>
      <id root="1.2.250.1.71.4.2.1" extension="810000000001"/>
      <assignedPerson>
        <name><prefix>Dr</prefix><given>Hugo</given><family>Garnier</family></name>
      </assignedPerson>
      <representedOrganization><name>Cabinet des Tilleuls</name></representedOrganization>
    </assignedAuthor>
  </author>
  <custodian>
    <assignedCustodian>
      <representedCustodianOrganization>
        <id root="1.2.250.1.71.4.2.2" extension="1999999990"/>
        <name>{custodian}</name>
      </representedCustodianOrganization>
    </assignedCustodian>
  </custodian>
"""

FOOTER = "</ClinicalDocument>\n"


def cda(
    body: str,
    *,
    title: str = "Document de test",
    code: str = "11488-4",
    display: str = "CR de consultation",
    time: str = "20240312103000+0100",
    custodian: str = "Laboratoire du Parc",
    doc_id: str = "TEST-1",
) -> bytes:
    """A CDA document around this ``<component>`` body (already XML)."""
    head = HEADER.format(
        title=title, code=code, display=display, time=time, custodian=custodian, doc_id=doc_id
    )
    return (head + body + FOOTER).encode("utf-8")


def structured(*sections: str) -> str:
    """A structuredBody with these ``<section>`` elements."""
    inner = "".join(f"<component>{s}</component>" for s in sections)
    return f"<component><structuredBody>{inner}</structuredBody></component>"


def section(title: str, text: str, *subsections: str, code: str = "") -> str:
    """A section with its narrative block and nested sections."""
    code_xml = f'<code code="{code}" codeSystem="2.16.840.1.113883.6.1"/>' if code else ""
    subs = "".join(f"<component>{s}</component>" for s in subsections)
    return f"<section>{code_xml}<title>{title}</title><text>{text}</text>{subs}</section>"


BIOLOGY_TABLE = """
<table border="1" width="100%">
  <caption>Hématologie</caption>
  <thead><tr>
    <th>Analyse</th><th>Résultat</th><th>Unité</th><th>Valeurs de référence</th>
  </tr></thead>
  <tbody>
    <tr><td>Hémoglobine</td><td><content styleCode="Bold">12,1</content></td>
        <td>g/dl</td><td>12,5 – 15,5</td></tr>
    <tr><td>Leucocytes</td><td>6,4</td><td>G/l</td><td>4,0 – 10,0</td></tr>
    <tr><td colspan="4">
      <content styleCode="Italics">Contrôle conseillé sous 3 mois</content></td></tr>
  </tbody>
</table>
"""

CR_BIO = cda(
    structured(
        section("Hématologie", BIOLOGY_TABLE, code="18723-7"),
        section(
            "Biochimie",
            "<paragraph>Glycémie à jeun : 0,95 g/l (normale).</paragraph>"
            "<paragraph>Commentaire du biologiste<br/>Résultats sans particularité.</paragraph>",
            code="18719-5",
        ),
    ),
    title="Compte rendu d'examens de biologie médicale",
    code="11502-2",
    display="CR d'examens biologiques",
    time="20240312083000+0100",
    doc_id="BIO-2024-0312",
)

VSM = cda(
    structured(
        section(
            "Pathologies en cours",
            "<list><item>Hypertension artérielle</item>"
            '<item>Diabète de type 2 <content styleCode="Italics">équilibré</content></item>'
            "</list>",
            section(
                "Antécédents médicaux",
                '<list listType="ordered"><item>Appendicectomie (1998)</item>'
                "<item>Fracture du poignet (2015)</item></list>",
                section(
                    "Antécédents familiaux", "<paragraph>Père : infarctus à 62 ans.</paragraph>"
                ),
            ),
            code="11450-4",
        ),
        section(
            "Traitements au long cours",
            "<table><thead><tr><th>Médicament</th><th>Posologie</th></tr></thead><tbody>"
            "<tr><td>Metformine 1000 mg</td><td>1 comprimé matin et soir</td></tr>"
            "<tr><td>Ramipril 5 mg</td><td>1 comprimé le matin</td></tr></tbody></table>",
            code="10160-0",
        ),
        section(
            "Allergies",
            "<paragraph>Pénicilline<sup>1</sup> "
            "<footnote>Réaction cutanée en 2010.</footnote></paragraph>",
            code="48765-2",
        ),
    ),
    title="Volet de synthèse médicale",
    code="60591-5",
    display="Synthèse médicale",
    time="20240105",
    custodian="Cabinet des Tilleuls",
    doc_id="VSM-2024-01",
)

VACCINATION_NOTE = cda(
    structured(
        section(
            "Vaccinations",
            "<table><thead><tr><th>Vaccin</th><th>Date</th><th>Lot</th></tr></thead><tbody>"
            "<tr><td>Grippe saisonnière</td><td>15/10/2024</td><td>AB1234</td></tr>"
            "</tbody></table>"
            '<paragraph>Prochain rappel : <content styleCode="Bold Underline">octobre 2025'
            "</content></paragraph>",
            code="11369-6",
        ),
    ),
    title="Note de vaccination",
    code="87273-9",
    display="Note de vaccination",
    time="20241015143000+0200",
    custodian="Pharmacie de la Gare",
    doc_id="VAC-2024-10",
)

NON_XML_BODY = cda(
    '<component><nonXMLBody><text mediaType="application/pdf" representation="B64">'
    "JVBERi0xLjQKJSVFT0YK</text></nonXMLBody></component>",
    title="Compte rendu d'imagerie",
    code="18748-4",
    display="CR d'imagerie médicale",
)


def with_text(narrative: str, *, extra_ns: str = "") -> bytes:
    """A one-section document whose narrative block is ``narrative`` (for hostile tests)."""
    doc = cda(structured(section("Section", narrative)))
    if extra_ns:
        doc = doc.replace(b"xmlns:xsi=", extra_ns.encode() + b" xmlns:xsi=", 1)
    return doc


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE ClinicalDocument [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&x;</title></ClinicalDocument>
"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE ClinicalDocument SYSTEM "http://evil.example/cda.dtd">
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>t</title></ClinicalDocument>
"""


def deeply_nested(depth: int) -> bytes:
    """A document whose narrative nests ``depth`` paragraphs (``content`` elements)."""
    return with_text("<content>" * depth + "profond" + "</content>" * depth)
