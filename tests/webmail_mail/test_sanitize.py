"""nh3 sanitising of HTML bodies and safe rendering of text bodies (no server needed)."""

from __future__ import annotations

import pytest

from espace_sante.webmail.mail.sanitize import MAX_BODY_CHARS, render_text, sanitise_html

from .hostile import HOSTILE_HTML, problems_in


@pytest.mark.parametrize("name", sorted(HOSTILE_HTML))
def test_nothing_executable_or_remote_survives(name: str) -> None:
    body = sanitise_html(HOSTILE_HTML[name])
    assert problems_in(str(body.html)) == []


def test_links_keep_working_with_noopener_and_a_visible_destination() -> None:
    body = sanitise_html(
        '<p>Voir <a href="https://exemple.fr/cr?id=1&amp;x=2">le compte rendu</a></p>'
    )
    out = str(body.html)
    assert 'href="https://exemple.fr/cr?id=1&amp;x=2"' in out
    assert 'rel="noopener noreferrer"' in out and 'target="_blank"' in out
    assert '<span class="mail-link-target">[https://exemple.fr/cr?id=1&amp;x=2]</span>' in out


def test_a_link_whose_destination_holds_markup_is_shown_escaped() -> None:
    body = sanitise_html('<a href="https://exemple.fr/<script>alert(1)</script>">x</a>')
    assert "<script" not in str(body.html)
    assert problems_in(str(body.html)) == []


def test_remote_images_are_blocked_and_reported() -> None:
    body = sanitise_html('<p>Logo</p><img src="https://exemple.fr/logo.png" alt="Logo du cabinet">')
    assert body.remote_blocked
    assert "exemple.fr/logo.png" not in str(body.html)
    assert 'alt="Logo du cabinet"' in str(body.html)
    assert not sanitise_html("<p>Rien de distant</p>").remote_blocked


def test_ordinary_formatting_is_kept() -> None:
    source = (
        "<h2>Compte rendu</h2><p><strong>Conclusion</strong> : <em>normal</em></p>"
        "<table><tr><th>Examen</th><td>Glycémie</td></tr></table><ul><li>un</li></ul>"
    )
    out = str(sanitise_html(source).html)
    for kept in ("<h2>", "<strong>", "<em>", "<table>", "<th>", "<td>", "<li>"):
        assert kept in out


def test_text_bodies_are_escaped_with_line_breaks_and_links() -> None:
    body = render_text('Bonjour <b>Madame</b> & co,\r\nvoir https://exemple.fr/a?b=1&c="2".\n\nFin')
    out = str(body.html)
    assert "&lt;b&gt;Madame&lt;/b&gt; &amp; co," in out
    assert "\nvoir " in out and "\r" not in out
    assert (
        '<a href="https://exemple.fr/a?b=1&amp;c=" rel="noopener noreferrer" target="_blank">'
        in out
    )
    assert problems_in(out) == []
    assert "javascript" not in str(render_text("javascript:alert(1)").html).replace(
        "javascript:alert(1)", ""
    )
    assert "<a" not in str(render_text("javascript:alert(1) data:text/html,x").html)


def test_huge_bodies_are_cut() -> None:
    body = sanitise_html("<p>" + "a" * (MAX_BODY_CHARS + 10) + "</p>")
    assert body.truncated
    assert render_text("b" * (MAX_BODY_CHARS + 1)).truncated
