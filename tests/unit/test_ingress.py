"""Security-group ingress in both of CloudTrail's shapes: the world check parses CIDRs, and garbage never crashes it."""

from __future__ import annotations

import random

import pytest
from conftest import load_event
from fuzz.mutate import mutate

from leash.catalog import lookup
from leash.events import parse_event
from leash.ingress import is_whole_internet, opens_to_world, world_rules_added
from leash.model import Impact

SAMPLES = {
    "ec2-authorize-security-group-ingress-by-agent": Impact.DESTRUCTIVE,  # nested, 0.0.0.0/0
    "ec2-authorize-security-group-ingress-flat-cidr-by-agent": Impact.DESTRUCTIVE,  # flat cidrIp
    "ec2-authorize-security-group-ingress-ipv6-by-agent": Impact.DESTRUCTIVE,  # nested, ::/0
    "ec2-authorize-security-group-ingress-private-range-by-agent": Impact.SENSITIVE,  # flat, 10.0.0.0/8
}


@pytest.mark.parametrize(
    "cidr",
    [
        "0.0.0.0/0",
        "::/0",
        "208.236.235.254/0",  # as Stratus Red Team's detonation record has it: host bits set, still everyone
        "10.1.2.3/0",
        "2001:db8::/0",
        "::ffff:0:0/0",
    ],
)
def test_every_prefix_length_zero_is_the_whole_internet(cidr):
    assert is_whole_internet(cidr)


@pytest.mark.parametrize(
    "cidr",
    [
        "10.0.0.0/8",
        "0.0.0.0/1",  # half of it is not all of it
        "0.0.0.0",  # a single address (/32)
        "::/1",
        "::",
        "0.0.0.0/33",
        "::/-0",
        "0.0.0.0/ 0",
        "sg-0123456789abcdef0",
        "pl-63a5400a",  # a prefix list is named, not its entries
        "",
        "/0",
        "garbage/0",
        None,
        0,
        True,
        ["0.0.0.0/0"],
        {"cidrIp": "0.0.0.0/0"},
        b"0.0.0.0/0",
        "\ud800/0",
    ],
)
def test_anything_else_is_not_and_nothing_raises(cidr):
    assert is_whole_internet(cidr) is False


FLAT = {"groupId": "sg-1", "ipPermissions": {}, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22}


def nested(ipv4=(), ipv6=(), prefix_lists=(), groups=()):
    def items(key, values):
        return {"items": [{key: v} for v in values]} if values else {}

    return {
        "groupId": "sg-1",
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "-1",
                    "groups": items("groupId", groups),
                    "ipRanges": items("cidrIp", ipv4),
                    "ipv6Ranges": items("cidrIpv6", ipv6),
                    "prefixListIds": items("prefixListId", prefix_lists),
                }
            ]
        },
    }


@pytest.mark.parametrize(
    ("params", "world"),
    [
        ({**FLAT, "cidrIp": "0.0.0.0/0"}, True),
        ({**FLAT, "cidrIp": "208.236.235.254/0"}, True),
        ({**FLAT, "cidrIp": "203.0.113.7/32"}, False),
        (nested(ipv4=["10.0.0.0/8", "0.0.0.0/0"]), True),
        (nested(ipv6=["::/0"]), True),
        (nested(ipv4=["10.0.0.0/8"], ipv6=["2001:db8::/32"]), False),
        (nested(prefix_lists=["pl-63a5400a"]), False),
        (nested(groups=["sg-0a1b2c3d"]), False),
        ({"groupId": "sg-1", "ipPermissions": {}}, False),
        ({}, False),
    ],
)
def test_the_request_opens_the_world_in_either_shape(params, world):
    assert opens_to_world(params) is world


@pytest.mark.parametrize(("name", "impact"), sorted(SAMPLES.items()))
def test_each_sample_is_rated_by_what_it_opened(name, impact):
    call = parse_event(load_event(name))
    action = lookup(call)
    assert action is not None and action.protection == "security-group-open-ingress"
    rated, because = action.assess(call)
    assert rated is impact
    assert because == (("opened to the whole internet",) if impact is Impact.DESTRUCTIVE else ())


def test_only_ingress_rules_open_to_the_world_with_an_id_are_revoked():
    rules = [
        {"securityGroupRuleId": "sgr-1", "isEgress": False, "cidrIpv4": "0.0.0.0/0"},
        {"securityGroupRuleId": "sgr-2", "isEgress": False, "cidrIpv6": "::/0"},
        {"securityGroupRuleId": "sgr-3", "isEgress": False, "cidrIpv4": "10.0.0.0/8"},
        {"securityGroupRuleId": "sgr-4", "isEgress": False, "prefixListId": "pl-63a5400a"},
        {"securityGroupRuleId": "sgr-5", "isEgress": True, "cidrIpv4": "0.0.0.0/0"},
        {"isEgress": False, "cidrIpv4": "0.0.0.0/0"},  # no ID: nothing Leash could name to revoke
        "sgr-6",
        None,
    ]
    added = world_rules_added({"securityGroupRuleSet": {"items": rules}})
    assert [r["securityGroupRuleId"] for r in added] == ["sgr-1", "sgr-2"]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_mutated_records_never_crash_the_world_check(name):
    """Seeded mutants of each sample (types swapped, fields deleted, junk nested): answers, never exceptions."""
    detail = load_event(name)["detail"]
    r = random.Random(14)
    for _ in range(300):
        request = mutate(r, detail["requestParameters"])
        response = mutate(r, detail["responseElements"])
        assert opens_to_world(request if isinstance(request, dict) else {}) in (True, False)
        assert isinstance(world_rules_added(response if isinstance(response, dict) else {}), list)
