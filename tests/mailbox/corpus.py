"""Messages with tricky MIME structures, shared by the unit tests and the Dovecot oracle test."""

from __future__ import annotations

from fixtures.mssante import clinician_message

CORPUS: dict[str, bytes] = {
    "plain": (
        b"From: Dr Dupont <dr.dupont@medecin.mssante.fr>\r\nTo: 280017512345610@patient.mssante.fr\r\n"
        b"Subject: Bonjour\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\nMessage-ID: <a@b>\r\n\r\n"
        b"Hello\r\nworld\r\n"
    ),
    "no_content_type_no_final_newline": b"From: a@b.fr\r\nSubject: x\r\n\r\nline one\r\nline two",
    "encoded_words_and_groups": (
        b"From: =?utf-8?q?J=C3=A9r=C3=B4me?= <jerome@x.fr>\r\n"
        b'To: Equipe: a@x.fr, "B, Bob" <b@x.fr>;, c@y.fr\r\n'
        b"Cc: undisclosed-recipients:;\r\n"
        b"Subject: =?utf-8?b?Q29tcHRlIHJlbmR1IMOp?=\r\nIn-Reply-To: <z@y>\r\n\r\nbody\r\n"
    ),
    "nested": (
        b"From: a@b.fr\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\npreamble\r\n'
        b"--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
        b"--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTexte\r\n"
        b"--inner\r\nContent-Type: text/html; charset=utf-8\r\nContent-Language: fr\r\n\r\n<p>Texte</p>\r\n"
        b"--inner--\r\n"
        b'--outer\r\nContent-Type: application/pdf; name="cr.pdf"\r\n'
        b'Content-Disposition: attachment; filename="cr.pdf"\r\nContent-Transfer-Encoding: base64\r\n'
        b"Content-ID: <part2@x>\r\nContent-Description: Compte rendu\r\nContent-Location: cr.pdf\r\n\r\n"
        b"JVBERi0xLjQK\r\n"
        b"--outer\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: c@d.fr\r\nSubject: inner message\r\n\r\ninner body\r\n"
        b"--outer--\r\nepilogue\r\n"
    ),
    "unterminated_multipart": (
        b"From: a@b.fr\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
        b"--zz\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--zz\r\nContent-Type: text/plain\r\n\r\nsecond, cut"
    ),
    "multipart_without_boundary": b"From: a@b.fr\r\nContent-Type: multipart/mixed\r\n\r\njust text\r\n",
    "garbage_content_type": b"From: a@b.fr\r\nContent-Type: ///;;;\r\n\r\nx\r\n",
    "rfc2231_and_folded": (
        b"From: a@b.fr\r\nSubject: a very long subject\r\n that is folded\r\n"
        b"Content-Type: application/octet-stream;\r\n name*=utf-8''compte%20rendu.pdf\r\n"
        b'Content-Disposition: attachment;\r\n filename*0="compte"; filename*1=" rendu.pdf"\r\n\r\nabc\r\n'
    ),
    "text_params_without_charset": (
        b"From: a@b.fr\r\nContent-Type: text/plain; format=flowed; delsp=yes\r\n"
        b"Content-Language: fr, en\r\n\r\nx\r\n"
    ),
    "rfc2231_extended_continuations": (
        b"From: a@b.fr\r\nContent-Type: application/pdf;\r\n name*0*=utf-8''r%C3%A9sum; name*1*=%C3%A9.pdf\r\n"
        b'Content-Disposition: attachment; filename*1="b.pdf"; filename*0="a"\r\n\r\nabc\r\n'
    ),
    "clinician": clinician_message(patient_ins="280017512345610"),
    "clinician_closing": clinician_message(
        patient_ins="280017512345610", closing=True, with_xdm=False
    ),
}

# Embedded messages (RFC 9051 §6.4.5: the parts of a message/rfc822 part are those of the message
# it holds), shaped like the imaptest suite's and like the forwards mail apps write.
_INNERMOST = b"From: sub@x.fr\r\nDate: Sun, 12 Aug 2012 12:34:56 +0300\r\nSubject: submsg\r\n\r\nHello world\r\n"
CORPUS.update(
    {
        "rfc822_in_rfc822": (
            b"From: a@x.fr\r\nSubject: outer\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n"
            b"From: b@x.fr\r\nSubject: middle\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n"
            + _INNERMOST
        ),
        "forward_of_a_multipart": (
            b"From: a@x.fr\r\nSubject: Fwd: cr\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="foo\r\n bar"\r\n\r\nRoot prologue\r\n\r\n'
            b"--foo bar\r\nContent-Type: text/x-myown; charset=us-ascii\r\n\r\nhello\r\n\r\n"
            b"--foo bar\r\nContent-Type: message/rfc822\r\nContent-Description: original\r\n\r\n"
            b"From: sub@x.fr\r\nDate: Sun, 12 Aug 2012 12:34:56 +0300\r\nSubject: submsg\r\n"
            b'X-Foo: bar\r\nContent-Type: multipart/alternative; boundary="sub1"\r\n\r\n'
            b"Sub prologue\r\n--sub1\r\nContent-Type: text/html\r\n\r\n<p>Hello world</p>\r\n\r\n"
            b"--sub1\r\nContent-Type: text/plain\r\n\r\nHello another world\r\n\r\n--sub1--\r\n"
            b"Sub epilogue\r\n\r\n--foo bar--\r\nRoot epilogue\r\n"
        ),
        "digest": (
            b"From: a@x.fr\r\nSubject: digest\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/digest; boundary=d\r\n\r\nprologue\r\n"
            b"--d\r\n\r\nFrom: m1@x.fr\r\nSubject: m1\r\n\r\nm1 body\r\n"
            b"--d\r\nX-Mime: m2 header\r\n\r\nFrom: m2@x.fr\r\nSubject: m2\r\n"
            b"Content-Type: multipart/mixed; boundary=e\r\n\r\n"
            b"--e\r\nContent-Type: text/plain\r\n\r\ne1\r\n--e\r\nContent-Type: message/rfc822\r\n\r\n"
            + _INNERMOST
            + b"--e--\r\n\r\n--d--\r\nepilogue\r\n"
        ),
        "forward_in_a_forward": (
            b"From: a@x.fr\r\nSubject: Fwd: Fwd\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=o\r\n\r\n"
            b"--o\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            b"Voir ci-dessous \xc3\xa9\r\n"
            b"--o\r\nContent-Type: message/rfc822\r\n\r\n"
            b"From: b@x.fr\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n"
            b"--m\r\nContent-Type: text/plain\r\n\r\nmiddle text\r\n"
            b"--m\r\nContent-Type: message/rfc822; name=original.eml\r\n"
            b"Content-Disposition: attachment; filename=original.eml\r\n\r\n"
            b"From: c@x.fr\r\nSubject: original\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            b"R=E9sultat normal=\r\n, =E0 revoir\r\n"
            b"--m--\r\n\r\n"
            b"--o--\r\n"
        ),
        "transfer_encodings": (
            b"From: a@x.fr\r\nSubject: encodings\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=t\r\n\r\n"
            b"--t\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            b"hello  \r\nbar=\r\n\r\nfoo\t=\r\nbar\r\nfoo\t \t= \r\n=62\r\nfoo = \t\r\nbar\r\nfoo =\r\n=62\r\n"
            b"foo  \r\nbar=\r\n\r\nfoo_bar\r\n\r\n"
            b"--t\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: BASE64\r\n\r\n"
            b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v\r\nMDEyMzQ1Njc4OTo7PD0+\r\n"
            b"--t\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            b"caf\xc3\xa9\r\n"
            b"--t\r\nContent-Type: message/rfc822\r\n\r\n"
            b"From: in@x.fr\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\nX-After: 1\r\n\r\n"
            b"aGVsbG8gd29ybGQ=\r\n"
            b"--t--\r\n"
        ),
        # The CRLF between the inner closing delimiter and the outer one is the outer
        # delimiter's (RFC 2046 §5.1.1); Dovecot counts it in the forwarded message too.
        "adjacent_delimiters": (
            b"From: a@x.fr\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n"
            b"--o\r\nContent-Type: message/rfc822\r\n\r\n"
            b"From: b@x.fr\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n"
            b"--i\r\nContent-Type: text/plain\r\n\r\ninner\r\n--i--\r\n--o--\r\n"
        ),
        "nul_octets": b"From: a@x.fr\r\nSubject: nul\r\n\r\nhello\x00world\r\n",
        "header_only": b"From: a@x.fr\r\nSubject: no body\r\n",
        "routes_and_groups": (
            b"From: Joe <@r1.example,@r2.example:joe@x.fr>\r\nSender: <@route:user@domain>\r\n"
            b"To: undisclosed-recipients:;\r\n"
            b'Cc: Equipe (soins): a@x.fr, "B, Bob" <b@x.fr>;, c@y.fr (Dr C)\r\n'
            b"Bcc: group: g1@d1.org, g2@d2.org;, group2: (foo) ;\r\n\r\nbody\r\n"
        ),
    }
)
