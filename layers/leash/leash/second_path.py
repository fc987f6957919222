"""The second path: alerts about tampering with Leash, and failed health checks, go straight to Slack as well.

The alerts topic may be the very thing tampered with (deleted, its subscriptions removed, its key disabled),
so an alert with `second_path=True` is posted to Slack (the bot token, else the webhook) by its sender first, then published to
SNS marked as posted (leash.publish.POSTED_TO_SLACK), so the Slack forwarder does not post it a second time.
Either path alone is enough: a failed publish after a successful post loses nothing and is reported; a
failed post is left to SNS and the forwarder (with its own retries and dead-letter queue); only when both
fail is the alert parked in the Slack dead-letter queue and the publish error raised, so Lambda retries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from leash.alerts import Alert
from leash.slack import DeadLetter, Delivery, TimeLeft, unlimited

SNS_RESERVE_SECONDS = 10.0  # of the invocation's time, kept for the SNS publish after the direct post
SLACK_ONLY = "slack-only"  # the message id of an alert the topic refused but Slack got directly


class MarkedPublish(Protocol):
    def __call__(self, alert: Alert, /, *, posted_to_slack: bool = False) -> str:
        """Publish the alert to the alerts topic, marked when it is already in Slack; return the message id."""
        ...


class DirectPost(Protocol):
    def deliver_alone(
        self, alert: Alert, time_left: TimeLeft = unlimited, *, dead_letter: DeadLetter | None = None
    ) -> Delivery:
        """Post the alert to the Slack channel on its own (leash.slack_incidents.IncidentSlack)."""
        ...


Report = Callable[[str, Alert, str], None]
"""(metric name, alert, what happened): one log line and one metric (leash.wiring logs with Powertools)."""

# What the second path reports, by metric name.
POSTED = "SecondPathPosted"  # in Slack directly, and on the topic
TOPIC_FAILED = "SecondPathTopicFailed"  # in Slack directly; the topic refused it (deleted? key disabled?)
SLACK_FAILED = "SecondPathSlackFailed"  # not in Slack directly; the topic carries it to the forwarder
BOTH_FAILED = "SecondPathBothFailed"  # parked in the Slack dead-letter queue; the publish error is raised


def ignore(_metric: str, _alert: Alert, _detail: str) -> None:
    """Report nowhere (the demo, replay and tests that only look at Slack and the topic)."""


class AlertSender:
    """Sends one alert: to the alerts topic, and for a second-path alert straight to Slack first.

    Called like any publisher (leash.publish.Publish): `send(alert)` returns the SNS message id, or
    SLACK_ONLY when only the direct post got through. Senders other than the Notifier (the health
    check) call it the same way.
    """

    def __init__(
        self,
        publish: MarkedPublish,
        slack: DirectPost | None,
        dead_letter: DeadLetter,
        *,
        time_left: TimeLeft = unlimited,
        report: Report = ignore,
    ):
        self._publish = publish
        self._slack = slack
        self._dead_letter = dead_letter
        self._time_left = time_left
        self._report = report

    def __call__(self, alert: Alert, /) -> str:
        if not alert.second_path or self._slack is None:
            return self._publish(alert)
        parked: list[Mapping[str, Any]] = []
        delivery = self._slack.deliver_alone(
            alert, lambda: self._time_left() - SNS_RESERVE_SECONDS, dead_letter=parked.append
        )
        if delivery.status == "not-configured":
            return self._publish(alert)
        posted = delivery.status == "posted"
        try:
            message_id = self._publish(alert, posted_to_slack=posted)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if posted:
                self._report(
                    TOPIC_FAILED, alert, f"posted to Slack directly; the alerts topic refused it: {error}"
                )
                return SLACK_ONLY
            for message in parked:
                self._dead_letter(
                    {**message, "reason": f"{message['reason']}; and the alerts topic: {error}"}
                )
            self._report(BOTH_FAILED, alert, f"{delivery.detail}; the alerts topic refused it too: {error}")
            raise
        if posted:
            self._report(POSTED, alert, "posted to Slack directly and published to the alerts topic")
        else:
            self._report(SLACK_FAILED, alert, f"{delivery.detail}; the alerts topic carries it to Slack")
        return message_id
