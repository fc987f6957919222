"""Leash's Slack request verification computes what slack_sdk's SignatureVerifier computes, and never raises."""

from __future__ import annotations

import random

import pytest
from slack_sdk.signature import SignatureVerifier

from leash.interactions import SlackSignature

NOW = 1_795_430_000


def test_signatures_agree_with_slack_sdk_on_500_random_requests():
    rng = random.Random(7)
    for _ in range(500):
        secret = "".join(rng.choice("abcdef0123456789") for _ in range(32))
        body = "".join(rng.choice("payload=%7B%22a%22%3A1%7D&é✓ \n") for _ in range(rng.randint(0, 200)))
        timestamp = str(NOW - rng.randint(0, 299))
        theirs = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
        ours = SlackSignature(secret, clock=lambda: NOW)
        assert ours.expected(body, timestamp) == theirs
        assert ours.is_valid(body, timestamp, theirs)
        assert ours.is_valid(body.encode(), timestamp, theirs)


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "valid"),
    [
        (None, "v0=00", "b", False),
        (str(NOW), None, "b", False),
        ("yesterday", "v0=00", "b", False),  # slack_sdk raises ValueError here
        (str(NOW), "v0=ü…", "b", False),  # and TypeError here
        ("１２３", "v0=00", "b", False),  # non-ASCII digits int() would read
        (str(NOW - 301), "SIGNED", "b", False),  # older than five minutes, however well signed
        (str(NOW), "SIGNED", b"lone \\ud800 surrogate".decode("unicode_escape"), False),
        (str(NOW), "SIGNED", "b", True),
    ],
    ids=["no-timestamp", "no-signature", "word-timestamp", "non-ascii-signature", "unicode-digits", "too-old",
         "unencodable-body", "valid"],
)  # fmt: skip
def test_malformed_or_old_requests_are_refused_without_an_exception(timestamp, signature, body, valid):
    if signature == "SIGNED":
        signature = SignatureVerifier("s3cr3t").generate_signature(timestamp=timestamp, body="b")
    assert SlackSignature("s3cr3t", clock=lambda: NOW).is_valid(body, timestamp, signature) is valid
