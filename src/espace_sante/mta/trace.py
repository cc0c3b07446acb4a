"""Trace headers added at reception: ``Received`` (RFC 5321 §4.4) and ``Authentication-Results``
(RFC 8601)."""

from __future__ import annotations

import email.utils
from typing import Any


def received_header(
    *,
    helo: str | None,
    peer: Any,
    hostname: str,
    tls: dict[str, Any] | None,
    transaction_id: str,
    recipient: str | None,
) -> bytes:
    ip = peer[0] if isinstance(peer, tuple) and peer else "unknown"
    helo_text = _clean(helo or "unknown")
    tls_text = ""
    if tls:
        cipher = tls.get("cipher")
        if cipher:
            tls_text = (
                f" (using {cipher[1]} with cipher {cipher[0]} ({cipher[2]}/{cipher[2]} bits))"
            )
    lines = [
        f"Received: from {helo_text} ([{ip}]){tls_text}",
        f"\tby {hostname} (espace-sante) with ESMTPS id {transaction_id}",
    ]
    if recipient:
        lines.append(f"\tfor <{_clean(recipient)}>;")
        lines.append(f"\t{email.utils.formatdate(localtime=False)}")
    else:
        lines[-1] += ";"
        lines.append(f"\t{email.utils.formatdate(localtime=False)}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8", "replace")


def authentication_results_header(
    *,
    hostname: str,
    envelope_sender: str,
    client_cert: str,
    trust: str,
    dkim: str | None,
) -> bytes:
    """``client_cert``: pass | none | fail; ``trust``: pass (sender in the trust space)."""
    parts = [
        f"Authentication-Results: {hostname};",
        f"\tsmtp.mailfrom={_clean(envelope_sender) or '<>'};",
        f"\tx-tls-client-cert={client_cert};",
        f"\tx-mssante-trust={trust}",
    ]
    if dkim:
        parts[-1] += ";"
        parts.append(f"\tdkim={dkim}")
    return ("\r\n".join(parts) + "\r\n").encode("utf-8", "replace")


def _clean(text: str) -> str:
    """Keep a client-supplied token from breaking or injecting header lines."""
    return "".join(ch for ch in text if ch.isprintable() and ch not in '()<>;\\"')[:255]
