"""An incident in Slack: one parent message kept up to date, each later alert a reply in its thread.

With a bot token (Slack's Web API, slack-sdk's WebClient): the first alert of an incident posts the parent
(chat.postMessage), each later one replies in its thread (thread_ts; a critical is also broadcast to the
channel with reply_broadcast) and the parent's summary is updated (chat.update); when the incident goes
quiet, `sweep` (run on a schedule) updates the parent once more to say it is closed. Without one, the
incoming webhook is the fallback: the first alert and every critical are posted, the rest reach the channel
as one digest when the incident goes quiet (`sweep`).

The caller serialises the alerts of one incident (the Slack function reads them from an SQS FIFO queue
whose message group is the incident): two alerts of one incident are never posted at the same moment, so
one parent is posted, never two. Waits are bounded by leash.slack's Budget; what still fails lands in the
Slack dead-letter queue with everything needed to post it later (method, channel, thread, payload).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web import WebClient

from leash.alerts import Alert
from leash.fit import fit, json_size
from leash.incident_blocks import alert_of_buttons, button_alert, opened_note, render_digest, render_parent
from leash.incidents import NO_PRINCIPAL, Incident, IncidentStore, principal_of
from leash.model import Severity
from leash.slack import (
    DEAD_LETTER_ALERT_CHARS,
    Budget,
    DeadLetter,
    Delivery,
    RateLimitRetry,
    SlackDelivery,
    Sleep,
    TimeLeft,
    TransientErrorRetry,
    real_sleep,
    unlimited,
)

SLACK_API_URL = "https://slack.com/api/"
INCIDENT_ID = re.compile(r"inc-[0-9a-f]{16}-[0-9]{1,12}")  # leash.incidents.incident_id


@dataclass(frozen=True, slots=True)
class WebApi:
    """Where the Web API is: the bot token's reader, the channel ID, and the API's URL (a stand-in in tests)."""

    token: Callable[[], str | None]
    channel: str
    base_url: str = SLACK_API_URL


class IncidentSlack:
    """Posts each alert as part of its incident: Web API threads with a bot token, else webhook and digest."""

    def __init__(
        self,
        incidents: IncidentStore | None,
        webhook: SlackDelivery,
        dead_letter: DeadLetter,
        web_api: WebApi | None = None,
        *,
        sleep: Sleep = real_sleep,
        timeout_seconds: int = 5,
        max_retries: int = 3,
    ):
        self._incidents = incidents
        self._webhook = webhook
        self._dead_letter = dead_letter
        self._web_api = web_api
        self._sleep = sleep
        self._timeout = timeout_seconds
        self._max_retries = max_retries

    def deliver(self, alert: Alert, incident_id: str = "", time_left: TimeLeft = unlimited) -> Delivery:
        """Post one alert in its incident (recorded here when the publisher named none, e.g. a workflow notice).

        What belongs to no principal (a CloudWatch alarm, a message Leash did not write) is posted on its own,
        as is everything when the function has no incident table (a stack from before incidents).
        """
        if self._incidents is None or principal_of(alert) == NO_PRINCIPAL:
            return self.deliver_alone(alert, time_left)
        incident = self._incidents.get(incident_id) if incident_id else None
        if incident is None:
            incident = self._incidents.record(alert)
        token = self._token(alert, incident)
        if isinstance(token, Delivery):
            return token
        if token:
            return self._thread(alert, incident, token, time_left)
        return self._webhook_post(alert, incident, time_left)

    def deliver_alone(
        self, alert: Alert, time_left: TimeLeft = unlimited, *, dead_letter: DeadLetter | None = None
    ) -> Delivery:
        """One message in the channel, in no thread: with the bot token if there is one, else the webhook.

        The second path posts this way (leash.second_path); dead_letter, when given, takes what could not
        be posted instead of the Slack dead-letter queue.
        """
        if self._web_api is None:
            return self._webhook.deliver(alert, time_left, dead_letter=dead_letter)
        park = dead_letter or self._dead_letter
        try:
            token = self._web_api.token()
        except Exception as exc:  # noqa: BLE001 - a broken secret must not lose the alert
            return self._park(alert, "", f"could not read the Slack bot token: {exc}", {}, park)
        if not token:
            return self._webhook.deliver(alert, time_left, dead_letter=dead_letter)
        budget = Budget(time_left, self._timeout)
        payload = self._webhook.render(alert)
        request = {"method": "chat.postMessage", "channel": self._web_api.channel, **payload}
        if not budget.allows(0, "no time left to try Slack"):
            return self._park(alert, "", budget.refusal, request, park)
        try:
            self._client(token, budget).chat_postMessage(channel=self._web_api.channel, **payload)
        except Exception as exc:  # noqa: BLE001 - SlackApiError, network errors after retries
            return self._park(alert, "", _failure(exc, budget), request, park)
        return Delivery("posted", "posted to Slack")

    def sweep(self, now: float, quiet_seconds: float, time_left: TimeLeft = unlimited) -> list[Delivery]:
        """Close the incidents quiet for `quiet_seconds`, each once: a thread's parent says it is closed
        (chat.update), the webhook fallback posts the digest of what it held back.

        What Slack refuses lands in the Slack dead-letter queue, ready to post, and the incident is closed
        all the same (never parked twice). When the invocation runs out of time, the rest wait for the next
        sweep.
        """
        results: list[Delivery] = []
        if self._incidents is None:
            return results
        for incident in self._incidents.quiet(now - quiet_seconds):
            if incident.thread_ts and self._web_api is not None:
                result = self._close_thread(incident, time_left)
                if result is None:
                    break  # no time left: closed by the next sweep
                results.append(result)
            elif not incident.thread_ts and incident.posted > incident.webhook_posts:
                alert = _incident_alert(incident, f"digest of incident {incident.id}")
                result = self._webhook.deliver(alert, time_left, render_digest(incident))
                results.append(
                    result
                    if result.status == "dead-lettered"
                    else Delivery(result.status, f"digest of {incident.id}: {result.detail}")
                )
            self._incidents.update(incident.id, digested=True)
        return results

    # -- Web API ----------------------------------------------------------------------------------

    def _token(self, alert: Alert, incident: Incident) -> str | Delivery | None:
        if self._web_api is None:
            return None
        try:
            return self._web_api.token()
        except Exception as exc:  # noqa: BLE001 - a broken secret must not lose the alert
            return self._give_up(alert, incident, f"could not read the Slack bot token: {exc}", {})

    def _thread(self, alert: Alert, incident: Incident, token: str, time_left: TimeLeft) -> Delivery:
        assert self._web_api is not None and self._incidents is not None
        budget = Budget(time_left, self._timeout)
        client = self._client(token, budget)
        if not incident.thread_ts:
            parent = render_parent(incident, alert, buttons=self._webhook.buttons)
            request = {"method": "chat.postMessage", "channel": self._web_api.channel, **parent}
            if not budget.allows(0, "no time left to try Slack"):
                return self._give_up(alert, incident, budget.refusal, request)
            try:
                response = client.chat_postMessage(channel=self._web_api.channel, **parent)
            except Exception as exc:  # noqa: BLE001 - SlackApiError, network errors after retries
                return self._give_up(alert, incident, _failure(exc, budget), request)
            self._incidents.update(
                incident.id,
                channel=str(response["channel"]),
                thread_ts=str(response["ts"]),
                posted=incident.posted + 1,
                parent_alert=button_alert(alert),
            )
            return Delivery("posted", f"opened incident {incident.id} in Slack")
        reply = self._webhook.render(alert)
        broadcast = alert.severity is Severity.CRITICAL
        request = {
            "method": "chat.postMessage",
            "channel": incident.channel,
            "thread_ts": incident.thread_ts,
            "reply_broadcast": broadcast,
            **reply,
        }
        if not budget.allows(0, "no time left to try Slack"):
            return self._give_up(alert, incident, budget.refusal, request)
        try:
            client.chat_postMessage(
                channel=incident.channel, thread_ts=incident.thread_ts, reply_broadcast=broadcast, **reply
            )
        except Exception as exc:  # noqa: BLE001
            return self._give_up(alert, incident, _failure(exc, budget), request)
        self._incidents.update(incident.id, posted=incident.posted + 1, parent_alert=button_alert(alert))
        current = self._incidents.get(incident.id) or incident
        parent = render_parent(current, alert, buttons=self._webhook.buttons)
        update = {"method": "chat.update", "channel": incident.channel, "ts": incident.thread_ts, **parent}
        try:
            client.chat_update(channel=incident.channel, ts=incident.thread_ts, **parent)
        except Exception as exc:  # noqa: BLE001 - the reply is posted; the summary waits for the next alert
            return self._give_up(
                alert, incident, f"the reply is posted, the summary not: {_failure(exc, budget)}", update
            )
        return Delivery(
            "posted", f"replied in the thread of {incident.id}" + (" and broadcast" if broadcast else "")
        )

    def _close_thread(self, incident: Incident, time_left: TimeLeft) -> Delivery | None:
        """The parent's last update: the summary says the incident is closed; the buttons stay. None: no time."""
        assert self._web_api is not None
        alert = _incident_alert(incident, f"closing summary of incident {incident.id}")
        parent = render_parent(
            incident, alert_of_buttons(incident.parent_alert), buttons=self._webhook.buttons, closed=True
        )
        request = {"method": "chat.update", "channel": incident.channel, "ts": incident.thread_ts, **parent}
        try:
            token = self._web_api.token()
        except Exception as exc:  # noqa: BLE001 - a broken secret must not lose the update
            return self._park(alert, incident.id, f"could not read the Slack bot token: {exc}", request)
        if not token:
            return Delivery(
                "not-configured", f"no Slack bot token: the parent of {incident.id} stays as it is"
            )
        budget = Budget(time_left, self._timeout)
        if not budget.allows(0, "no time left to try Slack"):
            return None
        try:
            self._client(token, budget).chat_update(channel=incident.channel, ts=incident.thread_ts, **parent)
        except Exception as exc:  # noqa: BLE001 - SlackApiError, network errors after retries
            return self._park(alert, incident.id, _failure(exc, budget), request)
        return Delivery("posted", f"closed incident {incident.id} in Slack")

    def _client(self, token: str, budget: Budget) -> WebClient:
        """slack-sdk's Web API client, its retries (Retry-After, 5xx backoff) bounded by the time left."""
        assert self._web_api is not None
        return WebClient(
            token=token,
            base_url=self._web_api.base_url,
            timeout=self._timeout,
            retry_handlers=[
                RateLimitRetry(self._sleep, budget, self._max_retries),
                TransientErrorRetry(self._sleep, budget, self._max_retries),
            ],
        )

    # -- webhook fallback -------------------------------------------------------------------------

    def _webhook_post(self, alert: Alert, incident: Incident, time_left: TimeLeft) -> Delivery:
        assert self._incidents is not None
        first = incident.posted == 0
        if not first and alert.severity is not Severity.CRITICAL:
            self._incidents.update(incident.id, posted=incident.posted + 1)
            return Delivery("held", f"held for the digest of {incident.id}")
        payload = self._webhook.render(alert)
        if first:
            payload = {**payload, "blocks": [*payload["blocks"], opened_note(incident)]}
        result = self._webhook.deliver(alert, time_left, payload)
        if result.status == "posted":
            self._incidents.update(
                incident.id, posted=incident.posted + 1, webhook_posts=incident.webhook_posts + 1
            )
        return result

    def _give_up(self, alert: Alert, incident: Incident, reason: str, request: Mapping[str, Any]) -> Delivery:
        return self._park(alert, incident.id, reason, request)

    def _park(
        self,
        alert: Alert,
        incident: str,
        reason: str,
        request: Mapping[str, Any],
        dead_letter: DeadLetter | None = None,
    ) -> Delivery:
        """The Slack DLQ gets the reason, the alert, its incident and the Web API call to repeat."""
        kept = fit(alert, Alert.to_dict, json_size, DEAD_LETTER_ALERT_CHARS)
        (dead_letter or self._dead_letter)(
            {"reason": reason, "alert": kept, "incident": incident, "slack": dict(request)}
        )
        return Delivery("dead-lettered", reason)


def _failure(exc: Exception, budget: Budget) -> str:
    if isinstance(exc, SlackApiError):
        what = f"Slack answered {exc.response.status_code}: {exc.response.get('error')}"
    else:
        what = f"Slack unreachable after retries: {type(exc).__name__}: {exc}"
    return f"{budget.refusal}; last error {what}" if budget.refusal else what


def _incident_alert(incident: Incident, title: str) -> Alert:
    """A message about an incident (its digest, its closing summary) as an alert, for the dead-letter queue."""
    return Alert(
        severity=incident.worst,
        title=title,
        actor={"arn": incident.principal, "label": incident.label},
        action="leash:IncidentDigest",
        resource=incident.principal,
        account="",
        region="",
        time="",
        event_id=incident.id,
        kind="message",
    )


# -- the FIFO queue between the alerts topic and Slack -----------------------------------------------
#
# An SNS standard topic cannot deliver to an SQS FIFO queue, and a FIFO topic delivers to nothing but SQS
# (no e-mail): so the Slack function, subscribed to the alerts topic, puts each alert on its FIFO queue
# with the incident as message group, and posts from that queue. SQS hands one group's messages to one
# invocation at a time, in order: two alerts of one incident never race to open the thread.


def queue_message(alert: Alert, incident: str, message_id: str = "") -> dict[str, str]:
    """SendMessage arguments for the Slack FIFO queue: grouped by incident, deduplicated by the SNS message."""
    import hashlib
    import json

    body = json.dumps(
        {"incident": incident, "alert": fit(alert, Alert.to_dict, json_size, DEAD_LETTER_ALERT_CHARS)},
        separators=(",", ":"),
    )
    if not INCIDENT_ID.fullmatch(incident):  # only ids Leash makes; anything else groups by principal
        incident = ""
    group = incident or hashlib.sha256(principal_of(alert).encode("utf-8", "replace")).hexdigest()[:64]
    dedup = hashlib.sha256((message_id or body).encode("utf-8", "replace")).hexdigest()
    return {"MessageBody": body, "MessageGroupId": group, "MessageDeduplicationId": dedup}


def from_queue(body: str) -> tuple[Alert, str]:
    """The alert and incident of one Slack FIFO queue message."""
    import json

    data = json.loads(body)
    return Alert.from_dict(data["alert"]), str(data.get("incident") or "")
