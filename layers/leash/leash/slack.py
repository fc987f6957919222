"""Slack delivery that loses nothing: slack-sdk's webhook client, honest retries, a dead-letter queue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from leash.alerts import Alert
from leash.fit import fit, json_size
from leash.slack_blocks import render_slack

Sleep = Callable[[float], None]
DeadLetter = Callable[[Mapping[str, Any]], None]
"""Takes an undeliverable alert: {"reason": ..., "alert": ..., "slack": the payload, ready to re-post}."""
TimeLeft = Callable[[], float]
"""Seconds the invocation has left (the Lambda context's get_remaining_time_in_millis() / 1000)."""

PARK_SECONDS = 5.0  # kept back to put a message in the dead-letter queue with its reason


class Budget:
    """The time one delivery may spend on Slack: what the invocation has left, less one attempt and parking."""

    def __init__(self, time_left: TimeLeft, attempt_seconds: float, park_seconds: float = PARK_SECONDS):
        self._time_left = time_left
        self._needed = attempt_seconds + park_seconds
        self._park = park_seconds
        self.refusal = ""  # why the delivery stopped early, for the dead letter

    def allows(self, wait: float, why: str) -> bool:
        """Whether waiting `wait` s and trying once more still leaves time to park; records why not."""
        left = self._time_left()
        if wait + self._needed <= left:
            return True
        self.refusal = (
            f"{why}, more than the time left ({left:.1f} s, of which {self._park:g} s are kept"
            " to park this message)"
        )
        return False


def real_sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up at each call, so a test can replace time.sleep


def unlimited() -> float:
    """No deadline: the demo, replay and tests that do not model one."""
    return float("inf")


class RateLimitRetry(RetryHandler):
    """HTTP 429: wait exactly what Slack's Retry-After asks, if the function has that time; else give up."""

    def __init__(self, sleep: Sleep, budget: Budget, max_retry_count: int = 3):
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep
        self._budget = budget

    def _can_retry(self, *, state: RetryState, request: Any, response: Any = None, error: Any = None) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after_seconds(response.headers)
        return self._budget.allows(wait, f"Slack rate-limited us: Retry-After {wait:g} s")

    def prepare_for_next_attempt(
        self, *, state: RetryState, request: Any, response: Any = None, error: Any = None
    ) -> None:
        self._sleep(retry_after_seconds(response.headers))
        state.next_attempt_requested = True
        state.increment_current_attempt()


class TransientErrorRetry(RetryHandler):
    """5xx, timeouts and dropped connections: back off exponentially (0.5 s, 1 s, 2 s, ...) while time allows."""

    def __init__(self, sleep: Sleep, budget: Budget, max_retry_count: int = 3, base_seconds: float = 0.5):
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep
        self._budget = budget
        self._base = base_seconds

    def _can_retry(self, *, state: RetryState, request: Any, response: Any = None, error: Any = None) -> bool:
        if response is not None:
            transient = bool(response.status_code >= 500)
            what = f"Slack answered HTTP {response.status_code}"
        else:
            transient = isinstance(error, URLError | TimeoutError | ConnectionError | RemoteDisconnected)
            what = f"Slack unreachable ({type(error).__name__})"
        wait = self._backoff(state)
        return transient and self._budget.allows(wait, f"{what}; the next try in {wait:g} s")

    def prepare_for_next_attempt(
        self, *, state: RetryState, request: Any, response: Any = None, error: Any = None
    ) -> None:
        self._sleep(self._backoff(state))
        state.next_attempt_requested = True
        state.increment_current_attempt()

    def _backoff(self, state: RetryState) -> float:
        return float(self._base * 2**state.current_attempt)


def retry_after_seconds(headers: Mapping[str, Any]) -> float:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                break
    return 1.0


@dataclass(frozen=True, slots=True)
class Delivery:
    status: str  # "posted" | "dead-lettered" | "not-configured"
    detail: str


SLACK_WEBHOOK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")  # Slack's incoming webhooks (and GovSlack's)
LOCAL_STAND_INS = ("127.0.0.1", "localhost")  # `leash demo` and the tests' fake Slack, over plain http


def secret_url(secret: str) -> str:
    """The URL a webhook secret holds, unchecked: the plain value, or JSON's "webhook_url" (or "url") key."""
    secret = secret.strip()
    if secret.startswith("{"):
        data = json.loads(secret)
        secret = data.get("webhook_url") or data.get("url") or ""
    return secret


def webhook_url_from_secret(secret: str) -> str:
    """The secret holds the plain webhook URL, or JSON with a "webhook_url" (or "url") key.

    Only a Slack webhook (https://hooks.slack.com/...) is accepted: a value written into the secret that
    points anywhere else would redirect every alert, so it is refused and the alert dead-lettered instead.
    """
    secret = secret_url(secret)
    try:
        url = urlsplit(secret)
        host, port = url.hostname, url.port
    except ValueError:
        host = port = None
        url = urlsplit("")
    slack = url.scheme == "https" and host in SLACK_WEBHOOK_HOSTS and port in (None, 443)
    local = url.scheme == "http" and host in LOCAL_STAND_INS
    if not (slack or local) or url.username is not None or not url.path.strip("/"):
        shown = f"{url.scheme}://{host}" if host else "a value that is not a URL"
        raise ValueError(
            f"the Slack secret must hold a Slack incoming-webhook URL (https://hooks.slack.com/services/...),"
            f" not {shown}"
        )
    return secret


def bot_token_from_secret(secret: str) -> str:
    """The secret holds the bot token (xoxb-...), plain or as JSON {"bot_token": "..."}."""
    secret = secret.strip()
    if secret.startswith("{"):
        secret = str(json.loads(secret).get("bot_token") or "")
    if not secret.startswith("xoxb-"):
        raise ValueError("the Slack bot token secret does not hold a bot token (xoxb-...)")
    return secret


def secret_reader(
    secret_arn: str, parse: Callable[[str], str], max_age_seconds: int = 300
) -> Callable[[], str | None]:
    """Reads a Slack secret (webhook_url_from_secret, bot_token_from_secret) from Secrets Manager, cached
    max_age_seconds; None when no secret is set."""

    def read() -> str | None:
        if not secret_arn:
            return None
        from aws_lambda_powertools.utilities import parameters  # a cold start without Slack does not pay

        return parse(str(parameters.get_secret(secret_arn, max_age=max_age_seconds)))

    return read


class SlackDelivery:
    """Posts alerts to one incoming webhook; what cannot be posted goes to the dead-letter sink with its reason.

    Every wait (Retry-After, backoff) fits in the time the invocation has left, keeping enough to
    park the message: a 429 storm ends in the dead-letter queue with its reason, not in a timeout.
    """

    def __init__(
        self,
        webhook_url: Callable[[], str | None],
        dead_letter: DeadLetter,
        *,
        sleep: Sleep = real_sleep,
        timeout_seconds: int = 5,
        max_retries: int = 3,
        buttons: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._webhook_url = webhook_url
        self._dead_letter = dead_letter
        self._sleep = sleep
        self._timeout = timeout_seconds
        self._max_retries = max_retries
        self.buttons = buttons  # only with an interaction endpoint to receive the clicks
        self._clock = clock

    def deliver(
        self,
        alert: Alert,
        time_left: TimeLeft = unlimited,
        payload: Mapping[str, Any] | None = None,
        *,
        dead_letter: DeadLetter | None = None,
    ) -> Delivery:
        """Post one alert (or `payload`, a message about it: an incident's digest); time_left bounds every retry.

        dead_letter, when given, takes what could not be posted instead of the delivery's own sink.
        """
        budget = Budget(time_left, self._timeout)
        park = dead_letter or self._dead_letter
        try:
            url = self._webhook_url()
        except Exception as exc:  # noqa: BLE001 - a broken secret must not lose the alert
            return self._give_up(alert, f"could not read the Slack webhook URL: {exc}", park, payload)
        if not url:
            return Delivery(
                "not-configured", "no Slack webhook configured; SNS subscribers still get the alert"
            )
        if not budget.allows(0, "no time left to try Slack"):
            return self._give_up(alert, budget.refusal, park, payload)
        payload = payload or self.render(alert)
        client = WebhookClient(
            url,
            timeout=self._timeout,
            retry_handlers=[
                RateLimitRetry(self._sleep, budget, self._max_retries),
                TransientErrorRetry(self._sleep, budget, self._max_retries),
            ],
        )
        try:
            response = client.send(text=payload["text"], blocks=payload["blocks"])
        except Exception as exc:  # noqa: BLE001 - network errors after retries
            error = f"{type(exc).__name__}: {exc}"
            if budget.refusal:
                return self._give_up(alert, f"{budget.refusal}; last error {error}", park, payload)
            return self._give_up(alert, f"Slack unreachable after retries: {error}", park, payload)
        if response.status_code == 200:
            return Delivery("posted", "posted to Slack")
        return self._give_up(
            alert,
            budget.refusal or f"Slack answered HTTP {response.status_code}: {str(response.body)[:200]}",
            park,
            payload,
        )

    def render(self, alert: Alert) -> dict[str, Any]:
        """The alert as this channel shows it: buttons only with an interaction endpoint, times relative to now."""
        return render_slack(alert, buttons=self.buttons, now=self._clock())

    def _give_up(
        self, alert: Alert, reason: str, dead_letter: DeadLetter, payload: Mapping[str, Any] | None = None
    ) -> Delivery:
        kept = fit(alert, Alert.to_dict, json_size, DEAD_LETTER_ALERT_CHARS)
        dead_letter({"reason": reason, "alert": kept, "slack": payload or self.render(alert)})
        return Delivery("dead-lettered", reason)


DEAD_LETTER_ALERT_CHARS = 128_000  # with the Slack payload, well under SQS's 256 KiB message limit


class SqsDeadLetter:
    """Sends undeliverable alerts to an SQS queue; if even that fails, the error propagates so Lambda retries."""

    def __init__(self, sqs_client: Any, queue_url: str):
        self._sqs = sqs_client
        self._queue_url = queue_url

    def __call__(self, message: Mapping[str, Any]) -> None:
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(message))
