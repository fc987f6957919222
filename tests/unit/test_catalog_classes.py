"""Severity follows the damage: a call's impact class, not its service, decides its impact and lockdown."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

from leash.assess import severity_for
from leash.catalog import (
    BACKUP_DELETED,
    CATALOG,
    CLASSES,
    PROTECTION_WEAKENED,
    SECURITY_LOG_SOURCE,
    TAMPER,
    grants_admin,
    lookup,
)
from leash.events import parse_event
from leash.model import ActorKind, Impact, Severity

CLASSED = [a for a in CATALOG if a.impact_class is not None]

# Names that say "a log source or detector" or "a backup", and the rows that carry such a name for another reason.
LOG_SOURCE_NAME = re.compile(r"Log(?!in)|Trail|Recorder|DeliveryChannel|Detector|EventDataStore")
BACKUP_NAME = re.compile(r"^(Batch)?Delete\w*(Snapshot|Backup|RecoveryPoint|BackupVault)s?$")
NOT_A_LOG_SOURCE = {
    # Any change, widening as well as narrowing: the request alone cannot tell (one destination per call).
    "network-firewall:UpdateLoggingConfiguration",
}
NOT_A_BACKUP: set[str] = set()


@pytest.mark.parametrize("action", CLASSED, ids=lambda a: f"{a.action}:{a.impact_class.name}")
def test_every_row_of_a_class_has_the_class_impact_and_lockdown(action):
    assert action.impact is action.impact_class.impact, f"{action.action} overrides its class's impact"
    assert action.lockdown is action.impact_class.lockdown, f"{action.action} overrides its class's lockdown"


@pytest.mark.parametrize("action", CATALOG, ids=lambda a: a.action)
def test_a_cover_up_or_a_lockdown_is_always_a_security_log_source(action):
    # No cover-up without the lockdown, and no lockdown decided row by row.
    assert (action.impact is Impact.COVER_UP) == (action.impact_class is SECURITY_LOG_SOURCE)
    assert action.lockdown == (action.impact_class is not None and action.impact_class.lockdown)


@pytest.mark.parametrize("action", CATALOG, ids=lambda a: a.action)
def test_a_log_source_or_backup_cannot_be_filed_as_plain_destructive(action):
    # A new row whose name says "log", "trail", "detector" or "snapshot" must say which class it is
    # (tampering with Leash's own log group is the stronger class: critical for anyone, and the second path).
    if action.leash_kind:
        assert action.impact_class is TAMPER, action.action
        return
    if LOG_SOURCE_NAME.search(action.name) and action.action not in NOT_A_LOG_SOURCE:
        assert action.impact_class is SECURITY_LOG_SOURCE, f"{action.action}: a security log source?"
    if BACKUP_NAME.match(action.name) and action.action not in NOT_A_BACKUP:
        assert action.impact_class is BACKUP_DELETED, f"{action.action}: a backup deleted?"


def test_class_severities_match_the_issue():
    for cls in CLASSES:
        agent = severity_for(cls.impact, ActorKind.AGENT)
        assert agent in (Severity.CRITICAL, Severity.HIGH), cls.name
    for kind in (ActorKind.AGENT, ActorKind.HUMAN, ActorKind.EXEMPT, ActorKind.EXTERNAL):
        assert severity_for(SECURITY_LOG_SOURCE.impact, kind) is Severity.CRITICAL
        assert severity_for(BACKUP_DELETED.impact, kind) is Severity.CRITICAL
    assert severity_for(PROTECTION_WEAKENED.impact, ActorKind.AGENT) is Severity.HIGH


def test_log_sources_of_every_service_are_cover_ups():
    by_action = {a.action: a for a in CATALOG if not a.leash_kind}
    for action in (
        "ec2:DeleteFlowLogs",
        "config:DeleteConfigurationRecorder",
        "config:DeleteDeliveryChannel",
        "config:StopConfigurationRecorder",
        "guardduty:DeleteDetector",
        "guardduty:UpdateDetector",
        "logs:DeleteLogGroup",
        "cloudtrail:StopLogging",
        "cloudtrail:PutEventSelectors",
    ):
        assert by_action[action].impact is Impact.COVER_UP and by_action[action].lockdown, action


def _call(event_name: str, /, **params):
    event = json.loads(json.dumps(_EVENT))
    event["detail"]["eventName"] = event_name
    event["detail"]["requestParameters"] = params
    return parse_event(event)


_EVENT = {
    "version": "0",
    "id": "1",
    "detail-type": "AWS API Call via CloudTrail",
    "source": "aws.cloudtrail",
    "account": "111122223333",
    "time": "2026-11-22T21:04:36Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "eventVersion": "1.10",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "userName": "bob"},
        "eventTime": "2026-11-22T21:04:36Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "awsRegion": "us-east-1",
        "eventID": "e1",
        "eventType": "AwsApiCall",
    },
}


def test_put_event_selectors_counts_only_when_no_selector_records_management_events():
    dropped = _call("PutEventSelectors", trailName="t", eventSelectors=[{"includeManagementEvents": False}])
    entry = lookup(dropped)
    assert entry is not None and entry.lockdown and entry.impact is Impact.COVER_UP
    stop = lookup(_call("StopLogging", name="t"))
    assert stop is not None and (entry.lockdown, entry.impact) == (stop.lockdown, stop.impact)
    # A data-events-only selector beside one that records management events (or leaves the default) drops nothing.
    for kept in ({"includeManagementEvents": True}, {"readWriteType": "All"}):
        both = [{"includeManagementEvents": False, "dataResources": [{"type": "AWS::S3::Object"}]}, kept]
        assert lookup(_call("PutEventSelectors", trailName="t", eventSelectors=both)) is None


ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@pytest.mark.parametrize(
    ("document", "admin"),
    [
        (json.dumps(ADMIN, indent=4), True),
        (json.dumps({"Statement": {"Effect": "Allow", "Action": ["s3:*", "*:*"], "Resource": ["*"]}}), True),
        (quote(json.dumps(ADMIN)), True),  # URL-encoded, as older records keep it
        (json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}), False),
        (
            json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}]}),
            False,
        ),
        (json.dumps({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}), False),
        (
            json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "*",
                            "Resource": "*",
                            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                        }
                    ]
                }
            ),
            False,
        ),
        ("not json", False),
        (None, False),
    ],
    ids=[
        "star",
        "list-with-star-colon-star",
        "url-encoded",
        "s3-only",
        "one-bucket",
        "deny",
        "conditional",
        "junk",
        "none",
    ],
)
def test_grants_admin_reads_the_policy_document(document, admin):
    assert grants_admin({"policyDocument": document}) is admin


def test_admin_escalations_name_the_policy():
    attach = _call("AttachUserPolicy", userName="ci", policyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    entries = {a.action: a for a in CATALOG}
    user = entries["iam:AttachUserPolicy"]
    assert user.did_of(attach) == "attached AdministratorAccess to user"
    assert user.assess(attach)[0] is Impact.DESTRUCTIVE
    inline = _call("PutUserPolicy", userName="ci", policyName="all", policyDocument=json.dumps(ADMIN))
    put = entries["iam:PutUserPolicy"]
    assert put.did_of(inline) == "put inline administrator policy all (* on *) on user"
    assert put.assess(inline)[0] is Impact.DESTRUCTIVE
    narrow = _call("PutUserPolicy", userName="ci", policyName="s3", policyDocument='{"Statement": []}')
    assert put.did_of(narrow) == "put an inline policy on user" and put.assess(narrow)[0] is Impact.SENSITIVE
    version = entries["iam:CreatePolicyVersion"]
    made_default = _call(
        "CreatePolicyVersion", policyArn="p", policyDocument=json.dumps(ADMIN), setAsDefault=True
    )
    not_default = _call(
        "CreatePolicyVersion", policyArn="p", policyDocument=json.dumps(ADMIN), setAsDefault=False
    )
    assert version.assess(made_default)[0] is Impact.DESTRUCTIVE
    assert version.assess(not_default)[0] is Impact.SENSITIVE
