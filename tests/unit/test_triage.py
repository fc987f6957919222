"""The catalog is complete by construction: every risky operation botocore knows is watched or triaged.

botocore's service models ship with boto3, so upgrading boto3 is what adds operations here: a new
`Delete*` API fails this test until it is cataloged (leash/catalog.py) or triaged with a reason
(cli/leash_build/triage.yaml; `python -m leash_build.triage --draft` prints it ready to paste).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from leash_build import triage

ROOT = Path(__file__).resolve().parents[2]

# The services the issue names an agent can destroy, blind or expose (botocore model names).
REQUIRED = {
    "ec2", "rds", "s3", "s3control", "dynamodb", "lambda", "iam", "sts", "kms", "secretsmanager", "cloudtrail",
    "config", "guardduty", "securityhub", "cloudwatch", "logs", "events", "route53", "route53resolver", "elb",
    "elbv2", "ecs", "eks", "ecr", "efs", "fsx", "backup", "elasticache", "redshift", "opensearch", "sns", "sqs",
    "kinesis", "firehose", "organizations", "sso-admin", "bedrock", "sagemaker", "cloudformation", "ssm",
    "rolesanywhere", "ram", "macie2", "inspector2", "detective", "accessanalyzer", "wafv2", "network-firewall",
    "cloudfront", "apigateway", "apigatewayv2", "cognito-idp",
}  # fmt: skip


@pytest.fixture(scope="module")
def problems():
    return triage.problems()


def test_every_required_service_is_triaged():
    assert REQUIRED <= set(triage.load())


def test_every_risky_operation_is_cataloged_or_triaged(problems):
    assert not problems.undecided, (
        "risky operations neither in leash/catalog.py nor in cli/leash_build/triage.yaml "
        f"(`python -m leash_build.triage --draft` prints them as YAML): {problems.undecided}"
    )


def test_triage_lines_name_real_operations_not_in_the_catalog(problems):
    assert not problems.unknown, f"triaged, but botocore has no such operation: {problems.unknown}"
    assert not problems.both, f"cataloged now: remove the triage line: {problems.both}"


def test_every_triage_line_gives_a_named_reason(problems):
    assert not problems.bad_reasons, (
        f"reasons must be one of {sorted(triage.REASONS)}: {problems.bad_reasons}"
    )


def test_every_catalog_row_is_an_operation_botocore_knows(problems):
    # A typo in an eventName (or a missing `event_names` line for lambda's dated names) fails here.
    assert not problems.uncatalogable


@pytest.mark.parametrize(
    ("operation", "verb"),
    [
        ("DeleteLogGroup", "destroys"),
        ("StopLogging", "disables"),
        ("DisassociateResolverQueryLogConfig", "disables"),
        ("ModifySnapshotAttribute", "exposes"),
        ("AddPermission", "exposes"),
        ("PutBucketPolicy", "exposes"),
        ("CreateFunctionUrlConfig", "exposes"),
        ("CreateLoginProfile", "mints credentials"),
        ("GetFederationToken", "mints credentials"),
        ("UploadSSHPublicKey", "mints credentials"),
        ("PutRetentionPolicy", "exposes"),  # a *Policy verb: exposure comes first, the decision is the same
        ("PutBucketLogging", "weakens"),
        ("PutEventSelectors", "weakens"),
        ("DescribeInstances", None),
        ("CreateBucket", None),
        ("ListKeys", None),
    ],
)
def test_the_verb_set_flags_what_destroys_disables_exposes_mints_or_weakens(operation, verb):
    assert triage.risky(operation) == verb


def test_lambda_dated_event_names_map_to_botocore_operations():
    service = triage.load()["lambda"]
    assert service.call_of("DeleteFunction") == ("lambda", "DeleteFunction20150331")
    assert triage.load()["s3control"].call_of("DeleteBucket") == ("s3-outposts", "DeleteBucket")
    assert triage.load()["s3control"].call_of("PutPublicAccessBlock") == ("s3", "PutAccountPublicAccessBlock")


def test_the_draft_is_paste_ready_yaml_and_says_when_nothing_is_left():
    assert triage.draft() == "# every risky operation is decided\n"
    assert triage.suggest("DeleteTags") == "tag-metadata - tags only"
    assert triage.suggest("DeleteWidget").startswith("recreatable - ")


def test_coverage_docs_are_generated_from_the_triage():
    assert (ROOT / "docs" / "coverage.md").read_text() == triage.markdown(), "run `make docs`"


def test_coverage_counts_add_up():
    # Every risky or cataloged operation is either watched or ignored with a reason, never both, never neither.
    for name, (risky_or_watched, watched, ignored) in triage.counts().items():
        assert watched + ignored == risky_or_watched, name
    assert "**undecided**" not in triage.markdown()
