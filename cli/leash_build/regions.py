"""Which regions one Leash stack sees: its home region, the regions it forwards from, and us-east-1's global services.

EventBridge delivers a CloudTrail event only in the region of the call, and the events of the global services
only in us-east-1 (issue #12). The deployed stack forwards, from every region of its WatchedRegions parameter,
the events its rules can match to the home region's bus; `leash replay` decides a multi-region history the
same way with `sees`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

WATCHED_REGIONS = "WatchedRegions"  # the template parameter: a comma-separated list of region names

# The regions every account has enabled (AWS general reference, "Enable or disable AWS Regions": the regions
# introduced before 20 March 2019). Opt-in regions (af-south-1, ap-east-1, me-south-1, eu-south-1, ...) are
# watched only when named: a forwarder cannot be deployed in a region the account has not enabled.
DEFAULT_WATCHED_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
    "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2",
)  # fmt: skip

# Where CloudTrail records, and EventBridge delivers, the calls of the global services.
GLOBAL_REGION = "us-east-1"
# Their eventSources: IAM, STS's global endpoint, Organizations, Account Management, CloudFront and Route 53
# control calls, and the console sign-ins recorded there (root's always are).
GLOBAL_EVENT_SOURCES = frozenset({
    "iam.amazonaws.com", "sts.amazonaws.com", "organizations.amazonaws.com", "account.amazonaws.com",
    "cloudfront.amazonaws.com", "route53.amazonaws.com", "signin.amazonaws.com",
})  # fmt: skip


def watched_regions(
    template: Mapping[str, Any], overrides: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """The WatchedRegions a deploy would get: the override, else the template's default, else DEFAULT_WATCHED_REGIONS."""
    spec = template.get("Parameters", {}).get(WATCHED_REGIONS, {})
    value = (overrides or {}).get(WATCHED_REGIONS, spec.get("Default"))
    if value is None:
        return DEFAULT_WATCHED_REGIONS
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(region.strip() for region in items if region.strip())


def sees(region: str, event_source: str, home: str, watched: tuple[str, ...] | frozenset[str]) -> bool:
    """Whether the stack homed in `home` receives a call made in `region`: its own region's, a watched
    region's (forwarded), and the global services' from us-east-1 wherever it lives."""
    if region in (home, *watched):
        return True
    return region == GLOBAL_REGION and event_source in GLOBAL_EVENT_SOURCES
