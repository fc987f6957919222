"""Slack delivery that loses nothing: slack-sdk's webhook client, honest retries, a dead-letter queue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from leash.alerts import Alert
from leash.slack_blocks import render_slack

Sleep = Callable[[float], None]


class RateLimitRetry(RetryHandler):
    """HTTP 429: wait exactly what Slack's Retry-After asks (capped), then try again."""

    def __init__(self, sleep: Sleep, max_retry_count: int = 3, max_wait_seconds: float = 20.0):
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep
        self._max_wait = max_wait_seconds

    def _can_retry(self, *, state: RetryState, request: Any, response: Any = None, error: Any = None) -> bool:
        return response is not None and response.status_code == 429

    def prepare_for_next_attempt(
        self, *, state: RetryState, request: Any, response: Any = None, error: Any = None
    ) -> None:
        self._sleep(min(retry_after_seconds(response.headers), self._max_wait))
        state.next_attempt_requested = True
        state.increment_current_attempt()


class TransientErrorRetry(RetryHandler):
    """5xx, timeouts and dropped connections: back off exponentially (0.5 s, 1 s, 2 s, ...)."""

    def __init__(self, sleep: Sleep, max_retry_count: int = 3, base_seconds: float = 0.5):
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep
        self._base = base_seconds

    def _can_retry(self, *, state: RetryState, request: Any, response: Any = None, error: Any = None) -> bool:
        if response is not None:
            return bool(response.status_code >= 500)
        return isinstance(error, URLError | TimeoutError | ConnectionError | RemoteDisconnected)

    def prepare_for_next_attempt(
        self, *, state: RetryState, request: Any, response: Any = None, error: Any = None
    ) -> None:
        self._sleep(self._base * 2**state.current_attempt)
        state.next_attempt_requested = True
        state.increment_current_attempt()


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


def webhook_url_from_secret(secret: str) -> str:
    """The secret holds the plain webhook URL, or JSON with a "webhook_url" (or "url") key."""
    secret = secret.strip()
    if secret.startswith("{"):
        data = json.loads(secret)
        secret = data.get("webhook_url") or data.get("url") or ""
    if not secret.startswith(("https://", "http://127.0.0.1", "http://localhost")):  # local stand-ins only
        raise ValueError("the Slack secret does not hold an https:// webhook URL")
    return secret


class SlackDelivery:
    """Posts alerts to one incoming webhook; what cannot be posted goes to the dead-letter sink with its reason."""

    def __init__(
        self,
        webhook_url: Callable[[], str | None],
        dead_letter: Callable[[Mapping[str, Any]], None],
        *,
        sleep: Sleep = time.sleep,
        timeout_seconds: int = 5,
        max_retries: int = 3,
    ):
        self._webhook_url = webhook_url
        self._dead_letter = dead_letter
        self._sleep = sleep
        self._timeout = timeout_seconds
        self._max_retries = max_retries
        self._clients: dict[str, WebhookClient] = {}

    def _client(self, url: str) -> WebhookClient:
        if url not in self._clients:
            self._clients[url] = WebhookClient(
                url,
                timeout=self._timeout,
                retry_handlers=[
                    RateLimitRetry(self._sleep, self._max_retries),
                    TransientErrorRetry(self._sleep, self._max_retries),
                ],
            )
        return self._clients[url]

    def deliver(self, alert: Alert) -> Delivery:
        try:
            url = self._webhook_url()
        except Exception as exc:  # noqa: BLE001 - a broken secret must not lose the alert
            return self._give_up(alert, f"could not read the Slack webhook URL: {exc}")
        if not url:
            return Delivery(
                "not-configured", "no Slack webhook configured; SNS subscribers still get the alert"
            )
        payload = render_slack(alert)
        try:
            response = self._client(url).send(text=payload["text"], blocks=payload["blocks"])
        except Exception as exc:  # noqa: BLE001 - network errors after retries
            return self._give_up(alert, f"Slack unreachable after retries: {type(exc).__name__}: {exc}")
        if response.status_code == 200:
            return Delivery("posted", "posted to Slack")
        return self._give_up(alert, f"Slack answered HTTP {response.status_code}: {str(response.body)[:200]}")

    def _give_up(self, alert: Alert, reason: str) -> Delivery:
        self._dead_letter({"reason": reason, "alert": alert.to_dict(), "slack": render_slack(alert)})
        return Delivery("dead-lettered", reason)


class SqsDeadLetter:
    """Sends undeliverable alerts to an SQS queue; if even that fails, the error propagates so Lambda retries."""

    def __init__(self, sqs_client: Any, queue_url: str):
        self._sqs = sqs_client
        self._queue_url = queue_url

    def __call__(self, message: Mapping[str, Any]) -> None:
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(message))
