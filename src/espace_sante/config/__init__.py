"""Typed settings, read from one TOML file and overridden by ``ESPACE_*`` environment variables.

In charge of: the shape of the configuration, its defaults, and refusing a bad value with a message
that names the key. Not in charge of: acting on the settings (each package reads what it needs).
"""

from espace_sante.config.settings import (
    ConfigError,
    MssanteSettings,
    OutboundSettings,
    RecordsSettings,
    Settings,
    SmtpSettings,
    SubmissionSettings,
    WebSettings,
    load_settings,
    parse_networks,
    parse_routes,
)

__all__ = [
    "ConfigError",
    "MssanteSettings",
    "OutboundSettings",
    "RecordsSettings",
    "Settings",
    "SmtpSettings",
    "SubmissionSettings",
    "WebSettings",
    "load_settings",
    "parse_networks",
    "parse_routes",
]
