"""`leash replay` as a backtest: exit codes, what it skips and counts once, its JSON schema and its table."""

from __future__ import annotations

import copy
import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EVENTS, GUARDRAIL_POLICY_ARN
from typer.testing import CliRunner

from leash_cli.main import app
from leash_cli.replay import Replay, lock_subject
from leash_cli.template import TEMPLATE, deployment_for, eventbridge_rules, load_template, template_rules

ACCOUNT = "111122223333"
PARAMETERS = [f"-pGuardrailPolicyArns={GUARDRAIL_POLICY_ARN}"]
SCHEMA = {
    "eventID",
    "time",
    "region",
    "account",
    "actor_kind",
    "actor_arn",
    "principal",
    "human_behind",
    "eventSource",
    "eventName",
    "resource",
    "rules",
    "function",
    "status",
    "severity",
    "planned_actions",
    "would_publish",
    "would_reapply",
    "would_lock",
    "lockdown",
    "reason",
}


def record(name: str, **changes) -> dict:
    return {**json.loads((EVENTS / f"{name}.json").read_text())["detail"], **changes}


def trail(folder: Path, records: list[dict], name: str = "log") -> Path:
    """A CloudTrail log file where CloudTrail writes it in its bucket."""
    where = folder / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "2026" / "11" / "22"
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{ACCOUNT}_CloudTrail_us-east-1_20261122T2105Z_{name}.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump({"Records": records}, f)
    return path


def digest(folder: Path) -> Path:
    """A digest file, which CloudTrail writes when log file validation is on (Leash turns it on)."""
    where = folder / "AWSLogs" / ACCOUNT / "CloudTrail-Digest" / "us-east-1" / "2026" / "11" / "22"
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{ACCOUNT}_CloudTrail-Digest_us-east-1_main-trail_us-east-1_20261122T2105Z.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump({"awsAccountId": ACCOUNT, "digestStartTime": "2026-11-22T20:05:00Z", "logFiles": []}, f)
    return path


def replay(*args: str):
    return CliRunner().invoke(app, ["replay", *PARAMETERS, *args])


def text(output: str) -> str:
    """Output as one line: what a reader sees, whatever the terminal's width."""
    return " ".join(output.split())


def lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


# --- exit codes ----------------------------------------------------------------------------------


def test_everything_read_and_decided_exits_0(tmp_path):
    trail(tmp_path, [record("s3-delete-bucket-via-mcp")])
    result = replay(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "1 calls read from 1 file; 1 matched Leash's rules." in result.stdout


def test_some_input_unreadable_exits_1_with_the_count(tmp_path):
    trail(tmp_path, [record("s3-delete-bucket-via-mcp"), 42])
    (tmp_path / "truncated.json.gz").write_bytes(gzip.compress(b'{"Records": []}')[:-6])
    result = replay(str(tmp_path))
    assert result.exit_code == 1, result.output
    assert "2 unreadable: 1 whole files, 1 records" in result.stderr
    assert (
        "truncated.json.gz: cannot read" in result.stderr and "#1: not a CloudTrail record" in result.stderr
    )
    assert "1 matched Leash's rules" in result.stdout  # what could be read is still decided


@pytest.mark.parametrize(
    "make",
    [
        lambda d: (d / "notes.json").write_text("these are not CloudTrail logs\nat all\n"),
        lambda d: (d / "log.json.gz").write_bytes(gzip.compress(b'{"Records": [{"eventName"')[:-8]),
        lambda d: (d / "other.json").write_text('{"some": "document"}'),
        lambda d: None,  # an empty directory
        digest,  # nothing but digest files
    ],
    ids=["not-json", "truncated-gz", "other-json", "empty-directory", "only-digests"],
)
def test_nothing_readable_exits_2(tmp_path, make):
    make(tmp_path)
    result = replay(str(tmp_path))
    assert result.exit_code == 2, result.output
    assert "error:" in result.stderr and "Traceback" not in result.output
    assert "calls read" not in result.stdout  # no report that looks like "nothing would happen"


def test_a_usage_error_exits_2():
    result = CliRunner().invoke(app, ["replay", "--format", "yaml", str(EVENTS)])
    assert result.exit_code == 2 and "'yaml' is not one of" in result.output


# --- what is skipped, what is counted once ----------------------------------------------------


def test_digest_files_are_skipped_quietly_and_counted(tmp_path):
    trail(tmp_path, [record("s3-delete-bucket-via-mcp")])
    digest(tmp_path)
    result = replay(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "(1 CloudTrail digest file skipped)" in text(result.stdout)


def test_the_same_history_twice_is_decided_once(tmp_path):
    history = [record(name) for name in ("s3-delete-bucket-via-mcp", "cloudtrail-stop-logging-by-agent")]
    trail(tmp_path / "a", history)
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # the bucket synced twice, or two overlapping trails
    once = lines(replay("--format", "jsonl", str(tmp_path / "a")))
    twice = replay("--format", "jsonl", str(tmp_path))
    assert twice.exit_code == 0 and lines(twice) == once
    table = replay(str(tmp_path))
    assert "2 repeated eventIDs decided once" in text(table.stdout)


def test_a_principal_is_locked_down_once_as_the_workflow_would(tmp_path):
    """Three cover-ups by one agent role, in two sessions: one lockdown, then 'not repeated'."""
    stop = record("cloudtrail-stop-logging-by-agent")
    other_session = json.loads(json.dumps(stop["userIdentity"]).replace("sess_a8f3b21c", "sess_second"))
    history = [
        stop,
        dict(stop, eventID="stop-2", eventTime="2026-11-22T21:10:00Z"),
        dict(stop, eventID="stop-3", eventTime="2026-11-22T21:20:00Z", userIdentity=other_session),
    ]
    trail(tmp_path, history)
    decided = [d for d in lines(replay("--format", "jsonl", str(tmp_path))) if d["lockdown"]]
    role = f"arn:aws:iam::{ACCOUNT}:role/ai-agent-deploy"
    assert [(d["eventID"], d["lockdown"], d["would_lock"]) for d in decided] == [
        (stop["eventID"], "requested", role),
        ("stop-2", "not-repeated", None),
        ("stop-3", "not-repeated", None),
    ]
    assert "would not repeat" in decided[1]["planned_actions"][-1]
    assert all(d["planned_actions"].count(a) == 1 for d in decided for a in d["planned_actions"])
    table = replay(str(tmp_path))
    assert "locked down 1 principal." in text(table.stdout)
    assert "lock it down once (2 later requests not repeated)" in " ".join(table.stdout.split())


def test_a_bad_record_two_rules_reach_is_one_problem(tmp_path):
    """A denied call by an agent reaches the notify path and the spike queue; without an eventID both refuse it."""
    bad = record("dynamodb-delete-table-denied")
    del bad["eventID"]
    trail(tmp_path, [bad])
    replayer = Replay(account=ACCOUNT)
    list(replayer.run([tmp_path]))
    assert replayer.report.problem_count == 1 and len(replayer.report.problems) == 1


# --- one schema, every decision ---------------------------------------------------------------


def test_every_json_line_has_the_same_schema_spikes_included(tmp_path):
    probe = record("dynamodb-delete-table-denied")
    probes = [dict(probe, eventID=f"probe-{n}", eventTime=f"2026-11-22T21:04:{n:02d}Z") for n in range(55)]
    trail(tmp_path, [record(p.stem) for p in sorted(EVENTS.glob("*.json")) if _is_call(p)] + probes)
    decided = lines(replay("--format", "jsonl", str(tmp_path)))
    assert decided and all(set(d) == SCHEMA for d in decided)
    spikes = [d for d in decided if d["function"] == "SpikeFunction"]
    assert len(spikes) == 2
    assert {(d["eventSource"], d["eventName"]) for d in spikes} == {("leash", "AccessDeniedSpike")}
    critical = next(d for d in spikes if d["severity"] == "critical")
    assert critical["region"] == "us-east-1" and critical["actor_kind"] == "agent"
    assert critical["lockdown"] in ("requested", "not-repeated")  # the spike asks for the lockdown too
    deleted = next(d for d in decided if d["eventName"] == "DeleteDBInstance")
    assert deleted == {
        **deleted,
        "time": "2026-11-22T21:04:36Z",
        "region": "us-east-1",
        "account": ACCOUNT,
        "actor_kind": "agent",
        "actor_arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ai-agent-deploy/sess_a8f3b21c",
        "principal": f"arn:aws:iam::{ACCOUNT}:role/ai-agent-deploy",
        "human_behind": "jordan@example.com",
        "resource": "prod-db",
        "status": "would-alert",
        "severity": "critical",
        "would_publish": True,
    }
    ignored = [d for d in decided if d["status"] == "ignored"]
    assert ignored and all(not d["would_publish"] and d["reason"] for d in ignored)


def _is_call(path: Path) -> bool:
    event = json.loads(path.read_text())
    return isinstance(event.get("detail"), dict) and "eventName" in event["detail"]


# --- progress, stderr --------------------------------------------------------------------------


def test_progress_is_reported_in_bytes_within_one_large_file(tmp_path):
    probe = record("dynamodb-delete-table-denied")
    path = trail(tmp_path, [dict(probe, eventID=f"p-{n}") for n in range(10_000)])
    seen: list[int] = []
    list(Replay(account=ACCOUNT).run([path], on_bytes=seen.append))
    assert len(seen) >= 3  # it moves while the one file is read, not only at its end
    assert sum(seen) == path.stat().st_size


def test_stderr_is_not_wrapped(tmp_path):
    deep = tmp_path / ("a-folder-with-a-long-name-" * 4) / "logs"
    deep.mkdir(parents=True)
    trail(deep, [record("s3-delete-bucket-via-mcp")])
    (deep / "broken.json.gz").write_bytes(b"not gzip")
    result = replay(str(deep))
    (line,) = [line for line in result.stderr.splitlines() if "broken.json.gz" in line]
    assert str(deep / "broken.json.gz") in line and len(line) > 120


# --- the table ---------------------------------------------------------------------------------


def test_the_table_shows_the_worst_principals_and_all_with_all(tmp_path):
    trail(tmp_path, [record(p.stem) for p in sorted(EVENTS.glob("*.json")) if _is_call(p)])
    top = replay("--top", "2", str(tmp_path))
    text = " ".join(top.stdout.split())
    assert "Per principal, worst first (8; the 2 worst shown, --all shows all)" in text
    # 35 alerts, 10 critical: its CreateRole leash-backdoor is tampering with Leash (#16). Its Unsubscribe from
    # Leash's topic names the topic in 111122223333, not in the account this replay is deployed in: not Leash's.
    assert "agent ai-agent-deploy, by jordan@example.com: 35 alerts (10 critical, 22 high, 3 medium)" in text
    assert "cloudtrail:PutEventSelectors org-trail" in text and "human data-pipeline-bot" not in text
    assert "Leash would put back 20 protections and lock it down once" in text
    everything = " ".join(replay("--all", str(tmp_path)).stdout.split())
    assert "human data-pipeline-bot" in everything and "more (--all)" not in everything
    assert "external account 444455556666: 1 alert (1 critical)" in everything  # another account, no ARN
    # Per rule, in the rule's own words, not only its name.
    # One rule since the packer splits a service call by call only when it must (#16).
    assert (
        "ReapplyData1 4 calls that strip a protection by anyone but Leash and AWS services (rds, dynamodb)"
        in everything
    )
    assert all(len(line) <= 80 for line in top.stdout.splitlines())


# --- leash rules, --version ------------------------------------------------------------------


def test_leash_rules_lists_every_rule_with_target_and_description():
    result = CliRunner().invoke(app, ["rules"])
    assert result.exit_code == 0
    template = load_template(TEMPLATE)
    listed = template_rules(template)
    routed = {r.name for r in eventbridge_rules(template, deployment_for(template, {}))}
    assert routed <= {r.name for r in listed} and len(listed) == len(routed) + 1  # + the lockdown request
    for rule in listed:
        assert rule.description and rule.target
        assert f"{rule.name} {rule.description.removeprefix('Leash: ')}" in text(result.stdout)
    assert f"Leash deploys {len(listed)} EventBridge rules" in result.stdout
    assert "LockdownStateMachine (1 rule, on the LeashEventBus bus)" in result.stdout


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("leash ")


def test_help_reads_as_sentences():
    """Every command's summary is whole in `leash --help`, and its help keeps sentences together."""
    runner = CliRunner()
    root = runner.invoke(app, ["--help"])
    assert root.exit_code == 0
    commands = root.stdout.split("Commands:", 1)[1]
    assert "..." not in commands  # no summary cut off mid-sentence
    for command in ("demo", "replay", "rules"):
        page = text(runner.invoke(app, [command, "--help"]).stdout)
        assert f"Usage: root {command}" in page  # CliRunner names the program "root"
    assert "matches them against the rules of template.yaml with your deploy parameters" in text(
        runner.invoke(app, ["replay", "--help"]).stdout
    )


# --- output that is data, on a terminal and through a pipe ---------------------------------------


def test_json_lines_reach_stdout_while_the_progress_bar_is_shown(tmp_path, monkeypatch):
    """On a terminal the bar draws on stderr; the JSON lines still go to stdout (a pipe, a file)."""
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich takes stderr for a terminal: the bar is on
    trail(tmp_path, [record("s3-delete-bucket-via-mcp"), record("cloudtrail-stop-logging-by-agent")])
    result = replay("--format", "jsonl", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert [d["eventName"] for d in lines(result)] == ["DeleteBucket", "StopLogging"]


def test_names_and_messages_are_printed_as_they_are(tmp_path):
    """A path or a value with [brackets] is data, not Rich markup."""
    (tmp_path / "logs[red].json").write_text("not json")
    trail(tmp_path, [record("s3-delete-bucket-via-mcp")])
    result = replay(str(tmp_path))
    assert result.exit_code == 1 and f"unreadable {tmp_path / 'logs[red].json'}: " in result.stderr
    missing = replay(str(tmp_path / "no[/b]such"))
    assert missing.exit_code == 2 and "no[/b]such" in missing.stderr and "Traceback" not in missing.output
    env = replay("--config-env", "prod", str(tmp_path))
    assert env.exit_code == 2 and "[prod]" in env.stderr


def test_a_reader_that_stops_reading_ends_the_backtest_quietly(tmp_path):
    deleted = record("s3-delete-bucket-via-mcp")
    trail(tmp_path, [dict(deleted, eventID=f"d-{n}") for n in range(3_000)])  # ~3 MB of JSON lines
    command = [sys.executable, "-m", "leash_cli", "replay", "--format", "jsonl", str(tmp_path)]
    reader = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    backtest = subprocess.run(command, stdout=reader.stdin, stderr=subprocess.PIPE, cwd=tmp_path, check=False)
    reader.stdin.close()
    assert json.loads(reader.stdout.read())["eventName"] == "DeleteBucket"
    reader.wait()
    assert backtest.returncode == 141 and backtest.stderr == b""


def test_a_principal_s_calls_are_listed_per_severity(tmp_path):
    """60 denied calls by an agent: a high then a critical spike, two rows, not one relabelled row."""
    probe = record("dynamodb-delete-table-denied")
    trail(
        tmp_path, [dict(probe, eventID=f"p-{n}", eventTime=f"2026-11-22T21:04:{n:02d}Z") for n in range(60)]
    )
    table = text(replay(str(tmp_path)).stdout)
    assert "2 alerts (1 critical, 1 high)" in table
    assert "critical dynamodb:DeleteTable" not in table  # the denied calls alert as spikes, not one by one
    assert "critical leash:AccessDeniedSpike table/orders" in table
    assert "high leash:AccessDeniedSpike table/orders" in table


def test_a_role_with_a_path_is_one_principal_to_lock_whichever_request_names_it(tmp_path):
    """A cover-up (the request names the session) and a denial spike (it names the role, with its path):
    the workflow locks the role by name once; the second request is 'not repeated'."""
    role_with_path = f"arn:aws:iam::{ACCOUNT}:role/agents/ai-agent-deploy"

    def on_path(call: dict) -> dict:
        identity = copy.deepcopy(call["userIdentity"])
        identity["sessionContext"]["sessionIssuer"]["arn"] = role_with_path
        return dict(call, userIdentity=identity)

    probe = record("dynamodb-delete-table-denied")
    probes = [
        on_path(dict(probe, eventID=f"p-{n}", eventTime=f"2026-11-22T21:05:{n:02d}Z")) for n in range(55)
    ]
    trail(tmp_path, [on_path(record("cloudtrail-stop-logging-by-agent")), *probes])
    decided = [d for d in lines(replay("--format", "jsonl", str(tmp_path))) if d["lockdown"]]
    assert sorted(d["lockdown"] for d in decided) == ["not-repeated", "requested"]
    assert [d["would_lock"] for d in decided if d["would_lock"]] == [
        f"arn:aws:iam::{ACCOUNT}:role/ai-agent-deploy"
    ]
    assert {d["function"] for d in decided} == {"ReapplyFunction", "SpikeFunction"}
    assert (
        lock_subject(role_with_path)
        == lock_subject(f"arn:aws:sts::{ACCOUNT}:assumed-role/ai-agent-deploy/sess")
        == f"arn:aws:iam::{ACCOUNT}:role/ai-agent-deploy"
    )
    assert lock_subject(f"arn:aws:iam::{ACCOUNT}:user/bob") == f"arn:aws:iam::{ACCOUNT}:user/bob"


def test_the_table_says_what_slack_and_the_pager_would_have_received(tmp_path):
    """Forty calls of one agent a minute apart, a critical among them: one incident, one thread, two pages."""
    calls = [
        record(
            "rds-modify-db-instance-class-by-agent",
            eventID=f"resize-{n}",
            eventTime=f"2026-11-22T21:{n:02d}:00Z",
        )
        for n in range(39)
    ] + [record("rds-delete-db-instance-skip-final-snapshot-by-agent", eventTime="2026-11-22T21:39:00Z")]
    trail(tmp_path, calls)
    text = " ".join(replay(str(tmp_path)).stdout.split())
    assert (
        "In Slack: 1 incident, 2 top-level posts (1 incident messages, 1 critical broadcasts) and 39 thread "
        "replies with a bot token; 3 posts with the webhook alone (2 first or critical alerts, 1 digests). "
        "Pages (critical and high): 1 critical."
    ) in text
