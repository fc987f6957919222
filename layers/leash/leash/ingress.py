"""Security-group ingress as CloudTrail records it: which ranges a call opened, and which are the whole internet.

`AuthorizeSecurityGroupIngress` reaches CloudTrail in two shapes. A call with `IpPermissions` (the AWS CLI,
`--cidr` included: its secgroupsimplify builds IpPermissions; the console; Terraform) is nested:
`ipPermissions.items[].ipRanges.items[].cidrIp` and `...ipv6Ranges.items[].cidrIpv6`. A call with the API's
top-level `CidrIp` (an SDK call such as boto3's `authorize_security_group_ingress(CidrIp=...)`, or the Go SDK
in Stratus Red Team's detonation record) is flat: `cidrIp` next to `ipProtocol`, `fromPort`, `toPort`, with
`ipPermissions: {}`. There is no top-level IPv6 parameter. The response lists every rule the call added,
whichever the shape: `responseElements.securityGroupRuleSet.items[]` with `securityGroupRuleId` and
`cidrIpv4`, `cidrIpv6`, `prefixListId` or `referencedGroupInfo`.

Any `/0` range is the whole internet, not only `0.0.0.0/0`: a caller may write a /0 with any address
(Stratus Red Team's published record has `208.236.235.254/0` in both the request and the response; AWS
canonicalizes what Describe returns, not what CloudTrail recorded), so ranges are parsed, never compared
as strings. A prefix list or another
security group is not rated as the whole internet: the record names the list, not its entries.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from leash.events import iter_path

REQUESTED_RANGES = (
    "cidrIp",  # the flat shape
    "ipPermissions.items.ipRanges.items.cidrIp",
    "ipPermissions.items.ipv6Ranges.items.cidrIpv6",
)


def is_whole_internet(cidr: Any) -> bool:
    """Whether a CIDR range has prefix length 0 (IPv4 or IPv6, host bits allowed); garbage is simply False."""
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def requested_ranges(request_parameters: Mapping[str, Any]) -> Iterator[Any]:
    """Every address range the request authorizes, from either shape (values as recorded, unchecked)."""
    for path in REQUESTED_RANGES:
        yield from iter_path(request_parameters, path)


def opens_to_world(request_parameters: Mapping[str, Any]) -> bool:
    """Whether the request opens any range that is the whole internet."""
    return any(is_whole_internet(cidr) for cidr in requested_ranges(request_parameters))


def world_rules_added(response_elements: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ingress rules the call added that are open to the whole internet, each with its rule ID."""
    return [
        rule
        for rule in iter_path(response_elements, "securityGroupRuleSet.items")
        if isinstance(rule, Mapping)
        and isinstance(rule.get("securityGroupRuleId"), str)
        and rule.get("isEgress") is not True
        and (is_whole_internet(rule.get("cidrIpv4")) or is_whole_internet(rule.get("cidrIpv6")))
    ]
