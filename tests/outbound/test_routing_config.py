"""The routing table and its configuration; MX ordering, implicit MX and null MX (RFC 7505)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dns.resolver
import pytest

from espace_sante.config import ConfigError, load_settings, parse_routes
from espace_sante.mta.outbound.routing import Router, RoutingError, Target


def test_routes_parse() -> None:
    assert parse_routes("medecin.mssante.fr=127.0.0.1:2526, *=[::1]:25;Apicrypt.fr = mx:10025") == {
        "medecin.mssante.fr": ("127.0.0.1", 2526),
        "*": ("::1", 25),
        "apicrypt.fr": ("mx", 10025),
    }
    assert parse_routes("") == {}


@pytest.mark.parametrize(
    "bad", ["medecin.fr", "medecin.fr=host", "medecin.fr=host:0", "=host:25", "a b=h:25", "x=:25"]
)
def test_bad_routes_name_the_key(bad: str) -> None:
    with pytest.raises(ConfigError, match="outbound.routes"):
        load_settings(path=None, environ={"ESPACE_OUTBOUND_ROUTES": bad})


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"ESPACE_OUTBOUND_RETRY_BASE": "soon"}, "outbound.retry_base"),
        ({"ESPACE_OUTBOUND_RETRY_BASE": "0"}, "outbound.retry_base"),
        ({"ESPACE_OUTBOUND_PER_DOMAIN_CONCURRENCY": "99"}, "outbound.per_domain_concurrency"),
        ({"ESPACE_OUTBOUND_TRUST_CA_FILE": "/nonexistent.pem"}, "outbound.trust_ca_file"),
        ({"ESPACE_OUTBOUND_LEASE": "5"}, "outbound.lease"),
        ({"ESPACE_SUBMISSION_PORT": "70000"}, "submission.port"),
        ({"ESPACE_SUBMISSION_MAX_RECIPIENTS": "0"}, "submission.max_recipients"),
    ],
)
def test_bad_values_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(path=None, environ=env)


def test_float_and_set_settings_from_the_environment() -> None:
    s = load_settings(
        path=None,
        environ={
            "ESPACE_OUTBOUND_POLL_INTERVAL": "0.5",
            "ESPACE_MSSANTE_PATIENT_INITIATED_PROFESSIONS": "21, 50",
        },
    )
    assert s.outbound.poll_interval == 0.5
    assert s.mssante.patient_initiated_profession_set == frozenset({"21", "50"})
    assert load_settings(path=None, environ={}).submission.port == 5870


@dataclass
class FakeMx:
    preference: int
    exchange: str


class FakeResolver:
    """Answers from a table: the point here is our ordering and fallbacks, not DNS itself."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    async def resolve(self, name: str, rdtype: str) -> Any:
        answer = self.answers[name]
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_routing_table_overrides_dns_and_mx_are_tried_by_preference() -> None:
    resolver = FakeResolver(
        {
            "apicrypt.org": [FakeMx(20, "mx2.apicrypt.org."), FakeMx(10, "mx1.apicrypt.org.")],
            "nomx.fr": dns.resolver.NoAnswer(),
            "gone.fr": dns.resolver.NXDOMAIN(),
            "nomail.fr": [FakeMx(0, ".")],
            "broken.fr": dns.resolver.LifetimeTimeout(),
        }
    )
    router = Router({"medecin.mssante.fr": ("127.0.0.1", 2526)}, resolver)  # type: ignore[arg-type]
    assert await router.targets("Medecin.MSSante.fr") == [Target("127.0.0.1", 2526)]
    assert await router.targets("apicrypt.org") == [
        Target("mx1.apicrypt.org", 25),
        Target("mx2.apicrypt.org", 25),
    ]
    assert await router.targets("nomx.fr") == [Target("nomx.fr", 25)]
    for domain, permanent, enhanced in (
        ("gone.fr", True, "5.1.2"),
        ("nomail.fr", True, "5.1.10"),
        ("broken.fr", False, "4.4.3"),
    ):
        with pytest.raises(RoutingError) as err:
            await router.targets(domain)
        assert err.value.permanent is permanent and err.value.enhanced == enhanced
    wildcard = Router({"*": ("127.0.0.1", 10025)}, resolver)  # type: ignore[arg-type]
    assert await wildcard.targets("apicrypt.org") == [Target("127.0.0.1", 10025)]
