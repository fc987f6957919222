"""template.yaml watches Leash itself (#16): alarms on every function and dead-letter queue, the heartbeat's dead
man's switch, the health function's schedule and rights, and both workflows logging their errors."""

from __future__ import annotations

import json

import pytest

from leash_cli.template import load_template


@pytest.fixture(scope="module")
def template():
    return load_template()


@pytest.fixture(scope="module")
def resources(template):
    return template["Resources"]


def _alarms(resources) -> dict[str, dict]:
    return {k: v for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}


def _functions(resources) -> dict[str, dict]:
    return {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_errors_and_throttles_alarms(resources, metric):
    alarmed = {}
    for logical_id, alarm in _alarms(resources).items():
        props = alarm["Properties"]
        if props.get("Namespace") == "AWS/Lambda" and props.get("MetricName") == metric:
            ((dimension,),) = [props["Dimensions"]]
            assert dimension["Name"] == "FunctionName"
            alarmed[dimension["Value"]["Ref"]] = alarm
            assert props["AlarmActions"] == [{"Ref": "AlertsTopic"}], logical_id
            assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold"), (
                logical_id
            )
            assert props["TreatMissingData"] == "notBreaching", logical_id
    functions = _functions(resources)
    assert set(alarmed) == set(functions)
    for name, function in functions.items():  # a conditional function's alarm exists exactly when it does
        assert alarmed[name].get("Condition") == function.get("Condition"), name


def _dead_letter_queues(resources) -> set[str]:
    """Every queue some function, rule or queue uses as its dead-letter queue."""
    found = set()

    def walk(node, under_dead_letter=False):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Fn::GetAtt" and under_dead_letter:
                    found.add(value[0] if isinstance(value, list) else value.split(".")[0])
                walk(
                    value,
                    under_dead_letter or key in ("DeadLetterConfig", "DeadLetterQueue", "RedrivePolicy"),
                )
        elif isinstance(node, list):
            for item in node:
                walk(item, under_dead_letter)

    walk(resources)
    return {q for q in found if resources[q]["Type"] == "AWS::SQS::Queue"}


def test_every_dead_letter_queue_alarms_on_its_oldest_message(resources):
    queues = _dead_letter_queues(resources)
    assert {"UndeliveredEventsQueue", "SlackDeadLetterQueue", "SpikeDeadLetterQueue"} <= queues
    aged = {}
    for alarm in _alarms(resources).values():
        props = alarm["Properties"]
        if props.get("MetricName") == "ApproximateAgeOfOldestMessage":
            assert props["Namespace"] == "AWS/SQS" and props["Statistic"] == "Maximum"
            ((dimension,),) = [props["Dimensions"]]
            aged[dimension["Value"]["Fn::GetAtt"][0]] = props
    assert queues <= set(aged)
    for queue in queues:
        assert aged[queue]["AlarmActions"] == [{"Ref": "AlertsTopic"}]
        assert 0 < aged[queue]["Threshold"] <= 86_400, queue  # well before the 14 days' retention
        # The first-message alarm stays: the age alarm is in addition to it.
        assert any(
            a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and a["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue, "QueueName"]}
            for a in _alarms(resources).values()
        ), queue


def test_the_heartbeat_alarm_is_a_dead_man_switch(resources):
    props = resources["HeartbeatAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == ("Leash", "Heartbeat")
    assert props["Dimensions"] == [{"Name": "service", "Value": "health"}]
    assert props["TreatMissingData"] == "breaching"
    assert (props["Statistic"], props["Threshold"], props["ComparisonOperator"]) == (
        "Sum",
        1,
        "LessThanThreshold",
    )
    # Alarms only when no heartbeat came for longer than a day (every evaluated period breaching), within
    # CloudWatch's limit for periods of an hour or more (7 days).
    window = props["Period"] * props["EvaluationPeriods"]
    assert 86_400 < window <= 604_800 and props["Period"] >= 3600
    assert props.get("DatapointsToAlarm", props["EvaluationPeriods"]) == props["EvaluationPeriods"]
    assert props["AlarmActions"] == [{"Ref": "AlertsTopic"}]


def test_the_health_function_checks_hourly_and_beats_daily(resources):
    events = resources["HealthFunction"]["Properties"]["Events"]
    schedules = {name: e["Properties"] for name, e in events.items() if e["Type"] == "Schedule"}
    assert json.loads(schedules["Heartbeat"]["Input"]) == {"heartbeat": True}
    assert schedules["Heartbeat"]["Schedule"].startswith("cron(0 8 * * ? *")
    assert json.loads(schedules["HealthCheck"]["Input"]) == {"heartbeat": False}
    assert schedules["HealthCheck"]["Schedule"] == "cron(0 0-7,9-23 * * ? *)"  # not twice at 08:00


def test_the_health_function_knows_which_rules_must_see_reads(resources):
    """Its LEASH_ALL_EVENTS_RULES names exactly the rules the template sets to see read-only calls."""
    env = resources["HealthFunction"]["Properties"]["Environment"]["Variables"]
    named = {ref["Ref"] for ref in env["LEASH_ALL_EVENTS_RULES"]["Fn::Join"][1]}
    wanted = {
        k
        for k, v in resources.items()
        if v["Type"] == "AWS::Events::Rule"
        and v["Properties"].get("State") == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    }
    assert named == wanted


def _allowed(role) -> set[str]:
    actions = set()
    for policy in role["Properties"]["Policies"]:
        for st in policy["PolicyDocument"]["Statement"]:
            st = st["Fn::If"][1] if "Fn::If" in st else st
            if st["Effect"] == "Allow":
                actions |= set(st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    return actions


def test_the_health_role_may_make_every_call_the_checks_make(resources):
    assert _allowed(resources["HealthRole"]) == {
        "logs:CreateLogStream", "logs:PutLogEvents",
        "cloudformation:ListStackResources", "cloudformation:DescribeStacks",
        "cloudformation:DescribeStackSet", "cloudformation:ListStackInstances",
        "events:DescribeRule", "events:ListTargetsByRule",
        "cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors",
        "sns:ListSubscriptionsByTopic", "sns:Publish", "kms:GenerateDataKey", "kms:Decrypt",
        "cloudwatch:GetMetricData", "dynamodb:Query", "secretsmanager:GetSecretValue",
        "sqs:SendMessage",  # the second path parks in the Slack DLQ what Slack and the topic both refused
    }  # fmt: skip


def test_the_health_role_may_publish_through_the_topic_policy(resources):
    statements = resources["AlertsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allow = next(s for s in statements if s["Sid"] == "LeashRolesPublish")
    deny = next(s for s in statements if s["Sid"] == "NobodyElsePublishes")
    health = {"Fn::GetAtt": ["HealthRole", "Arn"]}
    assert (
        health in allow["Principal"]["AWS"]
        and health in deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    )


LOG_DELIVERY = {
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}  # fmt: skip


@pytest.mark.parametrize("workflow", ["Lockdown", "Release"])
def test_state_machines_log_errors_without_execution_data(resources, workflow):
    props = resources[f"{workflow}StateMachine"]["Properties"]
    logging = props["Logging"]  # SAM's name for the state machine's LoggingConfiguration
    assert logging["Level"] == "ERROR" and logging["IncludeExecutionData"] is False
    ((destination,),) = [logging["Destinations"]]
    group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    group_props = resources[group]["Properties"]
    assert resources[group]["Type"] == "AWS::Logs::LogGroup"
    # Encrypted with Leash's key, whose policy lets CloudWatch Logs use it for /leash/<stack>/* only.
    assert group_props["LogGroupName"]["Fn::Sub"].startswith("/leash/${AWS::StackName}/")
    assert group_props["KmsKeyId"] == {"Fn::GetAtt": ["LeashKey", "Arn"]}
    assert group_props["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    role = props["Role"]["Fn::GetAtt"][0]
    assert LOG_DELIVERY <= _allowed(resources[role])


@pytest.mark.parametrize("workflow", ["Lockdown", "Release"])
def test_failed_executions_still_alarm(resources, workflow):
    """The existing alarms on failed, timed-out and aborted executions watch the logged state machines."""
    props = resources[f"{workflow}FailedAlarm"]["Properties"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m}
    assert "ExecutionsFailed" in names and props["AlarmActions"] == [{"Ref": "AlertsTopic"}]
