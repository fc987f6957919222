"""The README's first command: the demo runs headless on an emulated account and shows the alerts."""

from __future__ import annotations

from rich.console import Console

from leash_cli.demo import print_demo, run_demo


def test_demo_plays_every_sample_and_prints_alerts(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "a-real-profile-that-must-not-be-used")
    steps = run_demo()
    by_event = {}
    for step in steps:  # the handler's step; a lockdown it requested follows it
        by_event.setdefault(step.event, step)

    db = by_event["rds-delete-db-instance-skip-final-snapshot-by-agent"]
    assert (db.rules, db.status, str(db.alert.severity)) == (("DestructiveData",), "published", "critical")
    assert by_event["rds-modify-db-instance-by-leash"].status == "not routed"
    assert by_event["ec2-terminate-instances-by-autoscaling"].status == "ignored"
    assert sum(1 for s in steps if s.alert) == 38
    spikes = [s.alert for s in steps if s.event == "60 denied probes" and s.alert and s.alert.kind == "spike"]
    assert [a.severity for a in spikes] == ["high", "critical"]
    assert spikes[0].title.startswith("agent ai-agent-deploy: 61 denied calls in 5 min: iam:PassRole ×20")
    assert by_event["dynamodb-delete-table-denied"].status == "counted"
    lockdown = next(s for s in steps if s.rules == ("LockdownRequested",))
    assert lockdown.event == "cloudtrail-stop-logging-by-agent" and lockdown.status == "lockdown succeeded"
    assert lockdown.alert.title.startswith("LOCKDOWN applied to role ai-agent-deploy: deny-all, sessions issued before")
    assert by_event["cloudformation-update-termination-protection-disabled-by-agent"].status == "skipped"
    versioning = by_event["s3-put-bucket-versioning-suspended-by-agent"]
    assert versioning.rules == ("ReapplyData2",)
    assert versioning.alert.leash_did[0].startswith("Leash re-enabled versioning")
    trail = by_event["cloudtrail-stop-logging-by-agent"]
    assert trail.alert.leash_did[0].startswith("Leash restarted logging")

    console = Console(record=True, width=120)
    print_demo(steps, console)
    text = console.export_text()
    assert "[CRITICAL] agent ai-agent-deploy deleted DB instance prod-db" in text
    assert "39 events, 38 alerts, 20 protections put back, 1 lockdown, 2 filtered out by EventBridge patterns." in text
    import os
    assert os.environ["AWS_PROFILE"] == "a-real-profile-that-must-not-be-used"  # restored afterwards
