"""Where a domain's mail goes: the configured routing table first, then DNS MX (RFC 5321 §5.1)."""

from __future__ import annotations

from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.resolver

SMTP_PORT = 25


@dataclass(frozen=True)
class Target:
    host: str
    port: int


class RoutingError(Exception):
    """No target for a domain; ``permanent`` says whether trying again later is pointless."""

    def __init__(self, message: str, *, permanent: bool, enhanced: str) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.enhanced = enhanced


class Router:
    """Targets of a domain, in the order to try them."""

    def __init__(
        self,
        routes: dict[str, tuple[str, int]],
        resolver: dns.asyncresolver.Resolver | None = None,
    ) -> None:
        self.routes = {domain.lower(): target for domain, target in routes.items()}
        self._resolver = resolver

    async def targets(self, domain: str) -> list[Target]:
        domain = domain.lower().rstrip(".")
        route = self.routes.get(domain) or self.routes.get("*")
        if route is not None:
            return [Target(*route)]
        return await self._mx(domain)

    async def _mx(self, domain: str) -> list[Target]:
        resolver = self._resolver or dns.asyncresolver.get_default_resolver()
        try:
            answer = await resolver.resolve(domain, "MX")
        except dns.resolver.NXDOMAIN as exc:
            raise RoutingError(
                f"domain {domain} does not exist", permanent=True, enhanced="5.1.2"
            ) from exc
        except dns.resolver.NoAnswer:
            return [Target(domain, SMTP_PORT)]  # no MX: the domain itself (implicit MX)
        except (dns.exception.DNSException, OSError) as exc:
            raise RoutingError(
                f"DNS lookup of {domain} failed: {exc}", permanent=False, enhanced="4.4.3"
            ) from exc
        records = sorted(answer, key=lambda r: r.preference)
        hosts = [str(r.exchange).rstrip(".") for r in records]
        if hosts == [""]:  # RFC 7505 null MX: the domain accepts no mail
            raise RoutingError(
                f"domain {domain} accepts no mail (null MX)", permanent=True, enhanced="5.1.10"
            )
        return [Target(h, SMTP_PORT) for h in hosts if h]
