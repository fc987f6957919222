"""`leash replay` decides like the handlers, on CloudTrail log files and JSON lines, and skips bad input."""

from __future__ import annotations

import gzip
import json

import pytest
from conftest import EVENTS, SAMPLE_PARAMETERS
from sample_expectations import EXPECTED
from typer.testing import CliRunner

from leash_cli.main import app
from leash_cli.replay import Problem, Replay, events, files

PARAMETERS = SAMPLE_PARAMETERS


def samples():
    for path in sorted(EVENTS.glob("*.json")):
        event = json.loads(path.read_text())
        if isinstance(event.get("detail"), dict) and "eventName" in event["detail"]:
            yield path.stem, event


@pytest.fixture
def trail_file(tmp_path):
    """The samples as CloudTrail writes them to S3: one gzipped {"Records": [...]} per file, in a tree."""
    folder = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1" / "2026" / "11" / "22"
    folder.mkdir(parents=True)
    with gzip.open(folder / "111122223333_CloudTrail_us-east-1_20261122T2105Z_a1b2.json.gz", "wt") as f:
        json.dump({"Records": [event["detail"] for _, event in samples()]}, f)
    return tmp_path / "AWSLogs"


def decisions_by_event(replayer, stream):
    out = {}
    for item in stream:
        assert not isinstance(item, Problem), item
        location, event = item
        for decision in replayer.decide(location, event):
            out.setdefault(decision.event_id, []).append(decision)
    return out


# Replay cannot read role tags (it calls no AWS): these are agents only by their Usage=Agent tag.
TAG_ONLY = {"lambda-delete-function-by-tagged-agent-role", "iam-attach-role-policy-by-tagged-agent-role"}


def expected_by_event_id(tag_only: bool = False):
    wanted = {}
    for name, event in samples():
        if (name in TAG_ONLY) is not tag_only:
            continue
        rules, status, severity, _ = EXPECTED[name]
        if rules:
            # A dry run publishes nothing: what the handler would publish, replay says it would alert.
            status = "would-alert" if status == "published" else status
            wanted[event["detail"]["eventID"]] = (name, status, severity)
    return wanted


def test_replay_of_trail_files_decides_like_the_handlers(trail_file):
    replayer = Replay(overrides=PARAMETERS, account="111122223333")
    got = decisions_by_event(replayer, events([trail_file]))
    for event_id, (name, status, severity) in expected_by_event_id().items():
        (decision,) = [d for d in got[event_id] if d.function != "SpikeQueue"]
        assert (decision.status, decision.severity) == (status, severity), name


def test_replay_sees_tag_only_agents_when_they_are_named(trail_file):
    # What `leash replay --help` tells the user: name the tagged roles with -p AgentRoleNames=...
    replayer = Replay(overrides={**PARAMETERS, "AgentRoleNames": "data-pipeline-bot"}, account="111122223333")
    got = decisions_by_event(replayer, events([trail_file]))
    wanted = expected_by_event_id(tag_only=True)
    assert len(wanted) == len(TAG_ONLY)
    for event_id, (name, status, severity) in wanted.items():
        (decision,) = [d for d in got[event_id] if d.function != "SpikeQueue"]
        assert (decision.status, decision.severity) == (status, severity), name


def test_replay_of_eventbridge_json_lines_decides_the_same(tmp_path, trail_file):
    lines = tmp_path / "events.jsonl"
    lines.write_text("".join(json.dumps(event) + "\n" for _, event in samples()))
    from_lines = decisions_by_event(Replay(overrides=PARAMETERS, account="111122223333"), events([lines]))
    from_trail = decisions_by_event(
        Replay(overrides=PARAMETERS, account="111122223333"), events([trail_file])
    )

    def simplify(decided):
        return {
            k: [(x.function, x.status, x.severity, x.planned_actions) for x in v] for k, v in decided.items()
        }

    assert simplify(from_lines) == simplify(from_trail)


def test_replay_plans_protections_and_lockdowns(trail_file):
    replayer = Replay(overrides=PARAMETERS, account="111122223333")
    got = decisions_by_event(replayer, events([trail_file]))
    # Dropping management events asks for the same lockdown as stopping the trail; it comes first in the file,
    # so StopLogging's request is the one the workflow would not repeat.
    session = "arn:aws:sts::111122223333:assumed-role/ai-agent-deploy/sess_a8f3b21c"
    drop_management = got["5a1e0112-0000-4000-8000-000000000112"][0]
    assert drop_management.planned_actions == (
        "would put back: turned management events back on",
        f"would request a lockdown of {session}",
    )
    assert drop_management.would_lock == "arn:aws:iam::111122223333:role/ai-agent-deploy"
    stop_logging = got["d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6005"][0]
    assert stop_logging.planned_actions == (
        "would put back: restarted logging",
        f"would request a lockdown of {session}, which the workflow would not repeat: "
        "already locked down after 5a1e0112-0000-4000-8000-000000000112",
    )
    assert stop_logging.would_reapply == ("cloudtrail-logging",)
    assert stop_logging.lockdown == "not-repeated"
    protections = replayer.report.protections
    assert protections["rds-instance-deletion-protection"] == 1  # the exempt role's is not touched
    assert protections["rds-cluster-deletion-protection"] == protections["dynamodb-deletion-protection"] == 1


def test_malformed_files_and_records_are_reported_with_their_location_and_skipped(tmp_path):
    (tmp_path / "broken.json.gz").write_bytes(b"not gzip at all")
    (tmp_path / "lines.jsonl").write_text(
        '{"nope": 1}\nnot json\n' + json.dumps(dict(samples())["s3-delete-bucket-via-mcp"]) + "\n"
    )
    no_event_id = {
        "eventName": "DeleteBucket",
        "eventSource": "s3.amazonaws.com",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-22T21:04:36Z",
        "requestParameters": {"bucketName": "b"},
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob"},
    }
    (tmp_path / "records.json").write_text(json.dumps({"Records": [no_event_id, 42]}))
    items = list(events([tmp_path]))
    problems = {p.location.split("/")[-1]: p.reason for p in items if isinstance(p, Problem)}
    assert problems == {
        "broken.json.gz": problems["broken.json.gz"],
        "lines.jsonl:1": "neither an EventBridge event nor a CloudTrail record",
        "lines.jsonl:2": problems["lines.jsonl:2"],
        "records.json#1": "not a CloudTrail record",
    }
    assert problems["broken.json.gz"].startswith("cannot read") and problems["lines.jsonl:2"].startswith(
        "not JSON"
    )
    replayer = Replay(overrides=PARAMETERS)
    for item in items:
        if not isinstance(item, Problem):
            replayer.decide(
                *item
            )  # the record missing fields is rejected by the handler's parser, not a crash
    assert any("detail.eventID is missing" in p.reason for p in replayer.report.problems)


def test_cli_jsonl_and_table(trail_file):
    runner = CliRunner()
    result = runner.invoke(
        app, ["replay", str(trail_file), "--format", "jsonl", *[f"-p{k}={v}" for k, v in PARAMETERS.items()]]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {"eventID", "eventName", "actor_kind", "rules", "severity", "planned_actions"} <= set(lines[0])
    table = runner.invoke(app, ["replay", str(trail_file)])
    assert table.exit_code == 0 and "Per principal" in table.stdout
    missing = runner.invoke(app, ["replay", "/no/such/trail"])
    assert missing.exit_code != 0 and "no such file or directory" in missing.output
    # A home region that is no region code is refused before anything is read, as CloudFormation would.
    mars = runner.invoke(app, ["replay", str(trail_file), "--region", "mars-1"])
    assert mars.exit_code != 0 and "--region mars-1 is not a region code" in mars.output


def routine(n):
    """A read no rule wants, by an app role: most of any trail."""
    return {
        "eventVersion": "1.10",
        "eventID": f"routine-{n}",
        "eventName": "DescribeInstances",
        "eventSource": "ec2.amazonaws.com",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-22T21:04:36Z",
        "readOnly": True,
        "recipientAccountId": "111122223333",
        "requestParameters": {"instancesSet": {}},
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/orders-api/s",
            "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "orders-api"}},
        },
    }


def test_records_no_rule_wants_are_counted_without_being_decoded_and_decisions_do_not_change(
    tmp_path, monkeypatch
):
    records = [event["detail"] for _, event in samples()] + [routine(n) for n in range(50)] + [42]
    with gzip.open(tmp_path / "trail.json.gz", "wt") as f:
        json.dump({"Records": records}, f)

    def replay(prefilter):
        replayer = Replay(overrides=PARAMETERS, account="111122223333")
        if not prefilter:
            monkeypatch.setattr(replayer.router, "record_prefilter", lambda: None)
        decisions = [
            (d.event_id, d.function, d.status, d.severity, d.planned_actions)
            for d in replayer.run([tmp_path])
        ]
        return replayer.report, decisions

    (fast, fast_decisions), (slow, slow_decisions) = replay(True), replay(False)
    assert fast_decisions == slow_decisions and len(fast_decisions) > 30
    assert (fast.read, fast.matched, fast.rules, fast.severities, fast.protections, fast.lockdowns) == (
        slow.read,
        slow.matched,
        slow.rules,
        slow.severities,
        slow.protections,
        slow.lockdowns,
    )
    assert fast.read == len(records) - 1 and [p.reason for p in fast.problems] == ["not a CloudTrail record"]

    skipped = [
        item
        for item in events([tmp_path], Replay(overrides=PARAMETERS).router.record_prefilter())
        if type(item).__name__ == "Skipped"
    ]
    assert [s.count for s in skipped] == [50]  # the routine reads; every sample was decoded


def test_every_sample_a_rule_matches_passes_the_template_prefilter():
    router = Replay(overrides=PARAMETERS).router
    might_match = router.record_prefilter()
    assert might_match is not None
    for name, event in samples():
        if router.route(event):
            assert might_match(json.dumps(event["detail"]).encode()), name
    assert not might_match(json.dumps(routine(0)).encode())


def test_spike_windows_are_folded_as_the_history_moves_on_and_alert_the_same(tmp_path, monkeypatch):
    """Memory stays flat: windows an hour behind the newest call are turned into alerts and forgotten."""
    probe = dict(dict(samples())["dynamodb-delete-table-denied"]["detail"])
    records = []
    for hour in range(
        6
    ):  # six hours of an agent probing: 12 denied calls a minute, every other 5-minute window
        for minute in range(0, 60, 10):
            for n in range(60):
                records.append(
                    dict(
                        probe,
                        eventID=f"p-{hour}-{minute}-{n}",
                        eventTime=f"2026-11-22T{hour:02d}:{minute:02d}:{n % 60:02d}Z",
                    )
                )
    with gzip.open(tmp_path / "trail.json.gz", "wt") as f:
        json.dump({"Records": records}, f)

    def replay(batch):
        monkeypatch.setattr(Replay, "SPIKE_BATCH", batch)
        replayer = Replay(overrides=PARAMETERS)
        for _ in replayer.run([tmp_path]):
            pass
        # Which level of which principal's window alerted (titles give the count when the level was crossed,
        # which depends on where batches split, as in the deployed function).
        alerts = [(a.event_id, str(a.severity)) for a in replayer.spike_alerts]
        return alerts, replayer.spike_windows_held, replayer.report.lockdowns

    folded, live_groups, lockdowns = replay(100)
    whole, all_groups, whole_lockdowns = replay(10**9)
    assert folded == whole and lockdowns == whole_lockdowns and len(folded) == 36 * 2
    assert all_groups == 36 and live_groups <= 14  # the last hour and a bit, not the six


def test_json_lines_split_only_on_newlines(tmp_path):
    """JSON may hold U+2028 (a line separator to str.splitlines) unescaped inside a string."""
    event = dict(dict(samples())["s3-delete-bucket-via-mcp"])
    event["detail"] = dict(event["detail"], userAgent="agent\u2028with a separator")
    lines = tmp_path / "events.jsonl"
    lines.write_text(json.dumps(event, ensure_ascii=False) + "\n", encoding="utf-8")
    (item,) = list(events([lines]))
    assert not isinstance(item, Problem) and item[1]["detail"]["userAgent"] == "agent\u2028with a separator"


@pytest.mark.parametrize(
    ("parameter", "words"),
    [
        ("NoSuchParam=1", "Parameter NoSuchParam does not exist in the template"),
        ("AutoLockdown=bogus", "Parameter AutoLockdown='bogus' must be one of 'off', 'agents', 'non-exempt'"),
        ("AlertOnlyProtections=s3-versoning", "AlertOnlyProtections names a protection Leash does not have"),
        (
            "DeniedThresholdsAgent=50,10",
            "Parameter DeniedThresholdsAgent='50,10' must be warning,critical: two whole numbers with 0 < warning <= "
            "critical",
        ),
    ],
    ids=["unknown", "mode", "protection", "thresholds"],
)
def test_replay_refuses_a_parameter_cloudformation_or_the_functions_would_refuse(parameter, words):
    result = CliRunner().invoke(
        app, ["replay", "-p", parameter, str(EVENTS / "s3-delete-bucket-via-mcp.json")]
    )
    assert result.exit_code == 2
    assert words in " ".join(result.output.split())
    assert "Traceback" not in result.output


def _trail(tmp_path, records):
    folder = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1" / "2026" / "11" / "22"
    folder.mkdir(parents=True)
    with gzip.open(folder / "111122223333_CloudTrail_us-east-1_20261122T2115Z_c3d4.json.gz", "wt") as f:
        json.dump({"Records": records}, f)
    return tmp_path / "AWSLogs"


def _sample(name):
    return json.loads((EVENTS / f"{name}.json").read_text())["detail"]


def test_a_root_console_sign_in_in_a_trail_file_is_critical_as_the_deployed_rule_sees_it(tmp_path):
    # EventBridge delivers it as "AWS Console Sign In via CloudTrail": only the ConsoleSignIn rule takes it.
    replayer = Replay(overrides=PARAMETERS, account="111122223333")
    record = _sample("signin-console-login-by-root")
    (decision,) = replayer.run([_trail(tmp_path, [record])])
    assert (decision.status, decision.severity, decision.rules) == (
        "would-alert",
        "critical",
        ("ConsoleSignIn",),
    )
    assert decision.call == "signin:ConsoleLogin" and decision.actor_label == "root user"


@pytest.mark.parametrize("event_type", ["AwsServiceEvent", "AwsConsoleAction", "AwsCloudTrailInsight"])
def test_records_that_are_not_api_calls_are_not_routed_as_api_calls(tmp_path, event_type):
    # Root's PutBucketPolicy matches RootActivity as an API call; the same record of another eventType
    # reaches EventBridge under another detail-type, which no Leash rule takes.
    replayer = Replay(overrides=PARAMETERS, account="111122223333")
    api_call = _sample("s3-put-bucket-policy-by-root")
    other = {**api_call, "eventID": "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b", "eventType": event_type}
    decisions = list(replayer.run([_trail(tmp_path, [api_call, other])]))
    assert {d.event_id for d in decisions} == {api_call["eventID"]}
    assert replayer.report.read == 2 and replayer.report.matched == 1


def test_replay_of_many_accounts_decides_each_record_as_its_account_would(tmp_path):
    """An organisation's trail: the same agent session (by its session name) in this account and another.
    No rule names the deployment's account, so each record is routed as the rules deployed in its own
    account would route it, and the handler agrees it is an agent's."""
    record = dict(samples())["iam-create-user-by-agent-user"]["detail"]
    records = []
    for n, account in enumerate(("111122223333", "444455556666")):
        identity = {
            "type": "AssumedRole",
            "principalId": "AROA5EXAMPLEROLE0001:agent-claude-42",
            "arn": f"arn:aws:sts::{account}:assumed-role/platform-admin/agent-claude-42",
            "accountId": account,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": f"arn:aws:iam::{account}:role/platform-admin",
                    "accountId": account,
                    "userName": "platform-admin",
                }
            },
        }
        records.append(
            {
                **record,
                "userIdentity": identity,
                "recipientAccountId": account,
                "eventID": f"multi-account-{n}",
            }
        )
    (tmp_path / "org-trail.json").write_text(json.dumps({"Records": records}))
    replayer = Replay(overrides={**PARAMETERS, "AgentSessionNamePrefix": "agent-"}, account="111122223333")
    got = decisions_by_event(replayer, events([tmp_path]))
    for n in range(2):
        handled = [d for d in got[f"multi-account-{n}"] if d.function != "SpikeQueue"]
        assert [(d.function, d.status, d.severity) for d in handled] == [
            ("NotifyFunction", "would-alert", "medium")
        ]
        assert (handled[0].actor_label, handled[0].account) == (
            "agent platform-admin",
            records[n]["recipientAccountId"],
        )


# --- a multi-region history, as one stack homed in eu-west-1 receives it (issue #12) -----------------------


def in_region(name: str, region: str, event_id: str) -> dict:
    return {**dict(samples())[name]["detail"], "awsRegion": region, "eventID": event_id}


def write_trail(root, account: str, region: str, stamp: str, records: list[dict]) -> None:
    """One log file where CloudTrail puts it: AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/."""
    folder = root / "AWSLogs" / account / "CloudTrail" / region / stamp[:4] / stamp[4:6] / stamp[6:8]
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{account}_CloudTrail_{region}_{stamp}_{len(records)}x.json.gz"
    with gzip.open(folder / name, "wt") as f:
        json.dump({"Records": records}, f)


@pytest.fixture
def multi_region_trail(tmp_path):
    """Calls in four regions: eu-west-1 (home), us-east-1 (IAM, global; and S3), ap-southeast-2 (watched by
    default) and ap-east-1 (an opt-in region, not watched unless named)."""
    account = "111122223333"
    write_trail(tmp_path, account, "eu-west-1", "20261122T2105Z", [
        in_region("rds-modify-db-instance-disable-deletion-protection-by-agent", "eu-west-1", "home-rds"),
    ])  # fmt: skip
    write_trail(tmp_path, account, "us-east-1", "20261122T2105Z", [
        in_region("iam-detach-role-policy-guardrail-by-agent", "us-east-1", "global-iam"),
        in_region("s3-put-bucket-versioning-suspended-by-agent", "us-east-1", "regional-s3"),
    ])  # fmt: skip
    write_trail(tmp_path, account, "ap-southeast-2", "20261122T2105Z", [
        in_region("dynamodb-update-table-disable-deletion-protection-by-agent", "ap-southeast-2", "sydney-ddb"),
    ])  # fmt: skip
    write_trail(tmp_path, account, "ap-east-1", "20261122T2105Z", [
        in_region("kms-schedule-key-deletion-by-agent", "ap-east-1", "hong-kong-kms"),
    ])  # fmt: skip
    return tmp_path / "AWSLogs"


def decided(replayer, trail) -> dict[str, tuple[str, str | None, tuple[str, ...]]]:
    return {
        d.event_id: (d.region, d.severity, d.would_reapply)
        for d in replayer.run([trail])
        if d.function != "SpikeFunction"
    }


def test_replay_of_a_multi_region_trail_decides_as_the_home_stack_and_its_forwarders_would(
    multi_region_trail,
):
    replayer = Replay(overrides=PARAMETERS, account="111122223333", home_region="eu-west-1")
    got = decided(replayer, multi_region_trail)
    # The default WatchedRegions: every region enabled by default, so all but the opt-in ap-east-1.
    assert got == {
        "home-rds": ("eu-west-1", "high", ("rds-instance-deletion-protection",)),
        "global-iam": ("us-east-1", "high", ("agent-guardrail-policy",)),
        "regional-s3": ("us-east-1", "high", ("s3-versioning",)),
        "sydney-ddb": ("ap-southeast-2", "high", ("dynamodb-deletion-protection",)),
    }
    assert replayer.report.unseen == {"ap-east-1": 1} and replayer.report.read == 5


def test_watched_regions_decides_what_is_seen_and_iam_from_us_east_1_is_seen_wherever_leash_lives(
    multi_region_trail,
):
    replayer = Replay(
        overrides={**PARAMETERS, "WatchedRegions": "ap-east-1,us-west-2"},
        account="111122223333",
        home_region="eu-west-1",
    )
    got = decided(replayer, multi_region_trail)
    # Its own region, the regions named, and the global services' calls from us-east-1; not us-east-1's S3
    # call, nor Sydney's, which no forwarder sends home.
    assert set(got) == {"home-rds", "global-iam", "hong-kong-kms"}
    assert got["hong-kong-kms"][:2] == ("ap-east-1", "critical")
    assert replayer.report.unseen == {"us-east-1": 1, "ap-southeast-2": 1}


def test_a_denial_burst_split_across_three_regions_is_one_spike_in_replay(tmp_path):
    """The history read region folder by region folder still counts as the home stack does: log files in the
    order of their times, one counter for every region. 30 denials, 10 in each of three regions, with a
    warning level of 20: one spike alert that names the three regions (none when each region counted alone)."""
    probe = dict(samples())["dynamodb-delete-table-denied"]["detail"]
    for r, region in enumerate(("eu-west-1", "us-west-2", "ap-southeast-2")):
        for minute in (0, 1):  # two files per region, five calls each, interleaved in time across regions
            write_trail(tmp_path, "111122223333", region, f"20261122T21{minute:02d}Z", [
                {**probe, "awsRegion": region, "eventID": f"probe-{region}-{minute}-{n}",
                 "eventTime": f"2026-11-22T21:{minute:02d}:{r * 10 + n:02d}Z"}
                for n in range(5)
            ])  # fmt: skip
    stamps = [path.name.split("_")[3] for path in files([tmp_path])]
    assert stamps == ["20261122T2100Z"] * 3 + ["20261122T2101Z"] * 3  # by time, whatever the region's folder
    replayer = Replay(
        overrides={**PARAMETERS, "DeniedThresholdsAgent": "20,100"},
        account="111122223333",
        home_region="eu-west-1",
    )
    spikes = [d for d in replayer.run([tmp_path]) if d.function == "SpikeFunction"]
    assert [(d.event_name, d.severity) for d in spikes] == [("AccessDeniedSpike", "high")]
    (alert,) = replayer.spike_alerts
    assert alert.title.startswith("agent ai-agent-deploy: 30 denied calls in 5 min")
    assert alert.region == "ap-southeast-2, eu-west-1, us-west-2"
    assert spikes[0].region == alert.region


def test_cli_replay_reads_the_home_region_and_says_what_it_did_not_see(multi_region_trail):
    runner = CliRunner()
    args = ["replay", str(multi_region_trail), *[f"-p{k}={v}" for k, v in PARAMETERS.items()]]
    result = runner.invoke(app, [*args, "--region", "eu-west-1", "-pWatchedRegions=us-west-2"])
    assert result.exit_code == 0, result.output
    assert (
        "3 calls in regions WatchedRegions leaves out not seen: ap-east-1 ×1, ap-southeast-2 ×1, us-east-1 ×1"
        in (" ".join(result.stdout.split()))
    )
