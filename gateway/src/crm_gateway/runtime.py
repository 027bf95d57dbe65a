"""What the gateway holds while it runs: the key ring, rate limits and the services."""

from __future__ import annotations

from dataclasses import dataclass

from crm_gateway.keys.service import KeyRing
from crm_gateway.limits import RateLimiter
from crm_gateway.settings import GatewaySettings
from crm_gateway.upstreams.client import Upstreams


@dataclass
class Runtime:
    settings: GatewaySettings
    key_ring: KeyRing
    limiter: RateLimiter
    upstreams: Upstreams
