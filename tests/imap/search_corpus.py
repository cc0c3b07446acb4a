"""Messages for the SEARCH and SORT tests, shared with the Dovecot oracle test: address forms
(display names, comments, groups, encoded words, several addresses), bodies in transfer
encodings and charsets, text beside non-text parts, an embedded message, and subjects that
RFC 5256's base-subject rules strip."""

from __future__ import annotations

import base64

_PDF = base64.encodebytes(b"%PDF-1.4 pdfonlyword\n").replace(b"\n", b"\r\n")


def _message(headers: str, body: bytes | str = "body\r\n") -> bytes:
    data = body.encode() if isinstance(body, str) else body
    return headers.replace("\n", "\r\n").encode("utf-8") + b"\r\n" + data


#: The SEARCH folder, in sequence order (1, 2, ...).
ADDRESSED: list[bytes] = [
    # 1: display names with a comma, several To addresses, a group in Cc, a comment as the name
    _message(
        'From: "Dupont, Jean" <jean.dupont@chu-exemple.fr>\n'
        'To: anne@x.fr, "Bob Bernard" <bob@x.fr>, third@y.fr\n'
        "Cc: Equipe: m1@x.fr, m2@x.fr;, zed@z.fr\n"
        "Bcc: secret@z.fr (Mme Secret)\n"
        "Subject: Re: [CR] Bilan sanguin\n"
        "Date: Mon, 02 Nov 2026 10:00:00 +0100\n"
        "Message-ID: <1@search.test>\n",
        "Vos analyses sont normales.\r\n",
    ),
    # 2: a comment standing for the display name, comments inside the address
    _message(
        "From: jdupont@chu-exemple.fr (Jean Dupont)\n"
        "To: <user-to (comment)@ (comment) domain.org>\n"
        "Subject: Fwd: Bilan sanguin (fwd)\n"
        "Date: Tue, 03 Nov 2026 10:00:00 +0100\n"
        "Message-ID: <2@search.test>\n",
        "Transfert du bilan.\r\n",
    ),
    # 3: encoded words in names and subject; a quoted-printable UTF-8 body
    _message(
        "From: =?utf-8?q?J=C3=A9r=C3=B4me_Martin?= <jerome@labo.fr>\n"
        "To: =?iso-8859-1?q?Ren=E9e_Durand?= <renee@y.fr>\n"
        "Subject: =?utf-8?b?UsOpc3VsdGF0cyBkJ2FuYWx5c2U=?=\n"
        "Date: Wed, 04 Nov 2026 10:00:00 +0100\n"
        "Message-ID: <3@search.test>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n",
        "Les r=C3=A9sultats sont arriv=C3=A9s, l'h=C3=A9moglobine est nor=\r\nmale.\r\n",
    ),
    # 4: an empty group; a word only in the subject and in another header
    _message(
        "From: alice@labo.fr\n"
        "To: undisclosed-recipients:;\n"
        "Subject: qwertyuiop\n"
        "X-Header: asdfghjkl\n"
        "Date: Thu, 05 Nov 2026 10:00:00 +0100\n"
        "Message-ID: <4@search.test>\n",
        "zxcvbnm\r\n",
    ),
    # 5: multipart: base64 UTF-8 text, quoted-printable Latin-1 HTML, a PDF
    _message(
        "From: Pharmacie <contact@pharma.fr>\n"
        "To: patient@x.fr\n"
        "Subject: Ordonnance\n"
        "Date: Fri, 06 Nov 2026 10:00:00 +0100\n"
        "Message-ID: <5@search.test>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b1"\n',
        b"--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n"
        b"--b2\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes("Ordonnance renouvelée pour trois mois.\n".encode()).replace(
            b"\n", b"\r\n"
        )
        + b"--b2\r\nContent-Type: text/html; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>Ordonnance renouvel=E9e</p>\r\n"
        b"--b2--\r\n"
        b'--b1\r\nContent-Type: application/pdf; name="ordonnance.pdf"\r\n'
        b'Content-Disposition: attachment; filename="ordonnance.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + _PDF + b"--b1--\r\n",
    ),
    # 6: an 8-bit Latin-1 body; an embedded message
    _message(
        "From: Cardiologie <cardio@chu-exemple.fr>\n"
        "To: Patient <patient@x.fr>, other@x.fr\n"
        "Cc: zed@z.fr\n"
        "Subject: [CHU] Compte rendu\n"
        "Date: Sat, 07 Nov 2026 10:00:00 +0100\n"
        "Message-ID: <6@search.test>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="c1"\n',
        b"--c1\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9 cr\xe8me interdit.\r\n"
        b"--c1\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: inner@x.fr\r\nSubject: innersubject\r\n\r\ninnerbody\r\n--c1--\r\n",
    ),
]

#: SEARCH programs compared with Dovecot's answers on ADDRESSED (a quoted string with non-ASCII
#: characters goes as a literal, under CHARSET UTF-8: see :func:`wire`).
SEARCHES: list[str] = [
    "FROM dupont",
    'FROM "jean dupont"',
    'FROM "dupont, jean"',
    'FROM "jean dupont <jdupont"',
    "FROM jean.dupont@chu-exemple.fr",
    'FROM "<jean.dupont@chu-exemple.fr>"',
    "FROM chu-exemple",
    'FROM "jérôme"',
    "FROM JEROME@LABO",
    "FROM pharmacie",
    'TO "renée"',
    "TO bernard",
    "TO third@y.fr",
    "TO anne",
    "TO user-to@domain.org",
    "TO undisclosed",
    "TO other@x.fr",
    "CC equipe",
    "CC m2@x.fr",
    "CC zed",
    'CC "equipe: <m1@x.fr>, <m2"',  # Dovecot writes addresses without a name as <a@b>
    'CC "x.fr>;, <zed@z.fr>"',
    'TO "undisclosed-recipients:;"',
    'TO "<anne@x.fr>, \\"bob bernard\\" <bob@"',  # and quotes names that are not atoms
    'FROM "\\"jean dupont\\" <jdupont"',  # a comment as the display name
    'TO "renée durand <renee@"',  # decoded encoded words are not quoted
    "TO ,",
    "BCC secret",
    'BCC "mme secret"',
    "SUBJECT bilan",
    'SUBJECT "résultats"',
    "SUBJECT qwertyuiop",
    "BODY qwertyuiop",
    "TEXT qwertyuiop",
    "BODY asdfghjkl",
    "TEXT asdfghjkl",
    "HEADER X-Header asdf",
    "BODY zxcvbnm",
    'BODY "résultats"',
    'BODY "hémoglobine"',
    "BODY normale",
    'BODY "renouvelée"',
    "BODY trois",
    'BODY "crème"',
    'TEXT "crème"',
    "BODY pdfonlyword",
    "TEXT pdfonlyword",
    "BODY ordonnance.pdf",
    "TEXT ordonnance.pdf",
    "BODY innerbody",
    "BODY innersubject",
    "TEXT innersubject",
    "TEXT inner@x.fr",
    "BODY bilan",
    "TEXT bilan",
    'OR FROM alice TO "renée"',
    "NOT FROM dupont",
    "FROM dupont NOT TO anne",
    'HEADER Cc ""',
    'FROM ""',  # an empty string tests that the field is there
    'CC ""',
    'BCC ""',
    'SUBJECT ""',
    'BODY ""',
    'TEXT ""',
    'HEADER Bcc ""',
    'CHARSET UTF-8 TO "renée"',
    "CHARSET US-ASCII FROM dupont",
    "2:4 FROM labo",
    "UID 1:* TEXT normales",
]

#: SORT programs compared with Dovecot's answers on ADDRESSED.
SORTS: list[str] = [
    "(FROM) UTF-8 ALL",
    "(REVERSE FROM) UTF-8 ALL",
    "(TO) UTF-8 ALL",
    "(CC) UTF-8 ALL",
    "(CC REVERSE DATE) UTF-8 ALL",
    "(DISPLAYFROM) UTF-8 ALL",
    "(DISPLAYTO) UTF-8 ALL",
    "(REVERSE DISPLAYTO) UTF-8 ALL",
    "(SUBJECT) UTF-8 ALL",
    "(DATE) UTF-8 ALL",
    "(REVERSE DATE) UTF-8 FROM chu-exemple",
]

#: Subjects and their RFC 5256 §2.1 base subjects (case kept).
BASE_SUBJECTS: list[tuple[str, str]] = [
    ("", ""),
    ("Bilan", "Bilan"),
    ("Re: Bilan", "Bilan"),
    ("RE: re: Re:  Bilan", "Bilan"),  # repeated, any case, spaces
    ("Re:Bilan", "Bilan"),
    ("Re : Bilan", "Bilan"),  # *WSP before the colon
    ("Fw: Bilan", "Bilan"),
    ("Fwd: Bilan", "Bilan"),
    ("FWD: fw: re: Bilan", "Bilan"),
    ("Re[2]: Bilan", "Bilan"),  # a subj-blob before the colon
    ("Re [2]: Bilan", "Bilan"),
    ("[CR] Bilan", "Bilan"),  # a leading blob when something follows
    ("[CR]", "[CR]"),  # ... but not when nothing would be left
    ("[CR] [labo]", "[labo]"),
    ("[CR] Re: Bilan", "Bilan"),  # blobs before Re:
    ("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b"),
    ("Bilan (fwd)", "Bilan"),
    ("Bilan (fwd) (FWD) ", "Bilan"),
    ("Bilan (fwd) x", "Bilan (fwd) x"),  # (fwd) only as a trailer
    ("[Fwd: Bilan]", "Bilan"),
    ("Re: [FWD: c]", "c"),
    ("re: [fwd: [fwd: re: [fwd: babylon]]]", "babylon"),
    ("[fwd: Re: Bilan] (fwd)", "Bilan"),
    ("Bilan\t  sanguin", "Bilan sanguin"),  # whitespace runs become one space
    ("  Bilan  ", "Bilan"),
    ("Tr: Bilan", "Tr: Bilan"),  # only re, fw and fwd are reply/forward markers
    ("Ad: Re: Ad: x", "Ad: Re: Ad: x"),
    ("Reponse: x", "Reponse: x"),
    ("Re: ", ""),
    ("(fwd)", ""),
    ("_", "_"),
    ("=?iso-8859-1?q?RE:_C?=", "C"),  # encoded words are decoded first
    ("=?us-ascii?b?UmU6IGM=?=", "c"),
    ("Re: =?utf-8?q?R=C3=A9sultats?=", "Résultats"),
    ("=?iso-8859-1?q?_?=", ""),
]

#: The SORT (SUBJECT) folder: one message a subject of BASE_SUBJECTS.
SUBJECTED: list[bytes] = [
    _message(
        (f"Subject: {subject}\n" if subject else "")
        + f"From: s{index}@x.fr\nDate: Mon, 02 Nov 2026 10:{index:02d}:00 +0100\n"
    )
    for index, (subject, _) in enumerate(BASE_SUBJECTS)
]


def wire(program: str) -> bytes:
    """``program`` as sent: each quoted string holding non-ASCII characters as a LITERAL+
    literal, and ``CHARSET UTF-8`` first when there is one and no CHARSET was given."""
    out = b""
    pos = 0
    literal = False
    while (start := program.find('"', pos)) != -1:
        end = program.index('"', start + 1)
        text = program[start + 1 : end]
        out += program[pos:start].encode()
        if text.isascii():
            out += program[start : end + 1].encode()
        else:
            data = text.encode()
            out += b"{%d+}\r\n" % len(data) + data
            literal = True
        pos = end + 1
    out += program[pos:].encode()
    if literal and not program.upper().startswith(("CHARSET", "(")):
        out = b"CHARSET UTF-8 " + out
    return out
