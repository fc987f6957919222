"""CloudTrail's `userIdentity` forms, shaped after the CloudTrail User Guide ("CloudTrail userIdentity element")
and the service guides' log examples, with what Leash must make of each.

Several have no `arn`: another account (AWSAccount: accountId and principalId), AWS services (AWSService:
invokedBy), AWS acting on its own (KMS's DeleteKey: accountId and invokedBy, no type), Identity Center users
(onBehalfOf), and the Directory and Unknown types (principalId, userName).
"""

from __future__ import annotations

from typing import Any

from leash.model import ActorKind

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"

_SESSION_ATTRIBUTES = {"creationDate": "2026-11-22T20:58:12Z", "mfaAuthenticated": "false"}

# name -> (userIdentity, kind, the principal Leash counts and records, routed by the rules for "anyone")
FORMS: dict[str, tuple[dict[str, Any], ActorKind, str, bool]] = {
    "Root": (
        {
            "type": "Root",
            "principalId": ACCOUNT,
            "arn": f"arn:aws:iam::{ACCOUNT}:root",
            "accountId": ACCOUNT,
            "accessKeyId": "",
        },
        ActorKind.ROOT,
        f"arn:aws:iam::{ACCOUNT}:root",
        True,
    ),
    "IAMUser": (
        {
            "type": "IAMUser",
            "principalId": "AIDAJ45Q7YFFAREXAMPLE",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/Alice",
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "userName": "Alice",
        },
        ActorKind.HUMAN,
        f"arn:aws:iam::{ACCOUNT}:user/Alice",
        True,
    ),
    "AssumedRole": (
        {
            "type": "AssumedRole",
            "principalId": "AROAIDPPEZS35WEXAMPLE:MySessionName",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/RoleToBeAssumed/MySessionName",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAIDPPEZS35WEXAMPLE",
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/RoleToBeAssumed",
                    "accountId": ACCOUNT,
                    "userName": "RoleToBeAssumed",
                },
                "attributes": _SESSION_ATTRIBUTES,
            },
        },
        ActorKind.HUMAN,
        f"arn:aws:iam::{ACCOUNT}:role/RoleToBeAssumed",  # sessions of one role count together
        True,
    ),
    "FederatedUser": (
        {
            "type": "FederatedUser",
            "principalId": f"{ACCOUNT}:Bob",
            "arn": f"arn:aws:sts::{ACCOUNT}:federated-user/Bob",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "IAMUser",
                    "principalId": "AIDAJ45Q7YFFAREXAMPLE",
                    "arn": f"arn:aws:iam::{ACCOUNT}:user/Alice",
                    "accountId": ACCOUNT,
                    "userName": "Alice",
                },
                "attributes": _SESSION_ATTRIBUTES,
            },
        },
        ActorKind.HUMAN,
        f"arn:aws:sts::{ACCOUNT}:federated-user/Bob",
        True,
    ),
    "AWSAccount": (
        {"type": "AWSAccount", "principalId": "AIDA6EXAMPLEOTHERACCT", "accountId": OTHER_ACCOUNT},
        ActorKind.EXTERNAL,
        OTHER_ACCOUNT,  # one principal per other account
        True,
    ),
    "AWSAccount assumed role": (  # a role session of the other account: principalId is role ID and session
        {"type": "AWSAccount", "principalId": "AROA6EXAMPLEOTHERROLE:deploy-42", "accountId": OTHER_ACCOUNT},
        ActorKind.EXTERNAL,
        OTHER_ACCOUNT,
        True,
    ),
    "IdentityCenterUser": (
        {
            "type": "IdentityCenterUser",
            "accountId": ACCOUNT,
            "onBehalfOf": {
                "userId": "544894e8-80c1-707f-60e3-3ba6510dfac1",
                "identityStoreArn": f"arn:aws:identitystore::{ACCOUNT}:identitystore/d-9067642ac7",
            },
            "credentialId": "EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE",
        },
        ActorKind.HUMAN,
        "544894e8-80c1-707f-60e3-3ba6510dfac1",
        True,
    ),
    "Directory": (
        {
            "type": "Directory",
            "principalId": "S-1-5-21-1111111111-EXAMPLE",
            "accountId": ACCOUNT,
            "userName": "carol",
        },
        ActorKind.HUMAN,
        "S-1-5-21-1111111111-EXAMPLE",
        True,
    ),
    "Unknown": (
        {"type": "Unknown", "principalId": ACCOUNT, "arn": "", "accountId": ACCOUNT, "userName": "dave"},
        ActorKind.HUMAN,
        ACCOUNT,
        True,
    ),
    "AWSService": (
        {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"},
        ActorKind.AWS_SERVICE,
        "cloudtrail.amazonaws.com",
        False,
    ),
    "AWS Internal": (  # KMS's DeleteKey when the waiting period ends: no type, no ARN
        {"accountId": ACCOUNT, "invokedBy": "AWS Internal"},
        ActorKind.AWS_SERVICE,
        "AWS Internal",
        False,
    ),
}
