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
