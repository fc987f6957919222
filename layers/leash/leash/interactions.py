"""The Slack interaction endpoint: lock down, release or acknowledge from an alert, with verified requests.

Every request is verified with the Slack signing secret (SlackSignature, which also refuses requests
older than five minutes), refused if replayed, and accepted only from the Slack
user IDs allowed for that action. A double click starts one workflow: executions are named after
the alert and the action, so Step Functions refuses the second start. An alert is acknowledged once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qs

from leash.model import ACKNOWLEDGE, LOCKDOWN, RELEASE, permission_set_of
from leash.settings import SlackUsers

PATH = "/slack/interactions"  # the Function URL path the Slack app's Request URL names (slack/manifest.yaml)


@dataclass(frozen=True)
class Reply:
    status: int
    body: str

    def to_function_url(self) -> dict[str, Any]:
        """The response of a Lambda Function URL (payload format 2.0)."""
        return {"statusCode": self.status, "headers": {"Content-Type": "text/plain"}, "body": self.body}


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


MAX_BODY_BYTES = 1_000_000  # a Function URL takes 6 MB; a button click is a few KB


def request_body(event: Any) -> str | Reply:
    """The body of a Function URL request for PATH, or the Reply that refuses it (wrong route, undecodable body).

    Total on any event. Written here rather than with Powertools' event handler: one route does not
    need a router, and importing one costs the function ~45 ms at every cold start.
    """
    event = _object(event)
    http = _object(_object(event.get("requestContext")).get("http"))
    if http.get("method") != "POST" or event.get("rawPath") != PATH:
        return Reply(404, "not found")
    body = event.get("body") or ""
    if not isinstance(body, str) or len(body) > MAX_BODY_BYTES * 4 // 3 + 4:
        return Reply(400, "not a Slack request")
    if event.get("isBase64Encoded") is True:
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):  # not base64, or not UTF-8 once decoded
            return Reply(400, "not a Slack request")
    if len(body) > MAX_BODY_BYTES:
        return Reply(400, "not a Slack request")
    return body


def request_headers(event: Any) -> dict[str, str]:
    """The request's headers, lower-cased; a header that is not text is left out (Function URLs send text)."""
    headers = _object(_object(event).get("headers"))
    return {k.lower(): v for k, v in headers.items() if isinstance(k, str) and isinstance(v, str)}


class Verifier(Protocol):
    """The request's signature and age checked with the signing secret (SlackSignature)."""

    def is_valid(self, body: str | bytes, timestamp: str | None, signature: str | None) -> bool: ...


class SlackSignature:
    """Slack's request signing, v0: HMAC-SHA256 of "v0:{timestamp}:{body}" with the app's signing secret.

    The same computation as slack_sdk's SignatureVerifier (a test checks they agree), written here for
    two reasons: importing slack_sdk loads its whole Web API client (~45 ms of every cold start of a
    function that needs none of it), and SignatureVerifier raises on a malformed timestamp or a
    non-ASCII signature, where a forged request deserves a plain 401.
    """

    MAX_AGE_SECONDS = 300  # Slack's advice: refuse requests older than five minutes (replays)

    def __init__(self, signing_secret: str, clock: Callable[[], float] = time.time):
        if not signing_secret.strip():
            raise ValueError("the Slack signing secret is empty")
        self._secret = signing_secret.encode()
        self._clock = clock

    def expected(self, body: str | bytes, timestamp: str) -> str:
        """The signature Slack sends for this body and timestamp (header X-Slack-Signature)."""
        raw = body.encode("utf-8") if isinstance(body, str) else body
        digest = hmac.new(self._secret, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
        return f"v0={digest}"

    def is_valid(self, body: str | bytes, timestamp: str | None, signature: str | None) -> bool:
        if not isinstance(timestamp, str) or not isinstance(signature, str) or not timestamp.isascii():
            return False
        try:
            sent = int(timestamp)
            expected = self.expected(body, timestamp)
        except (ValueError, UnicodeEncodeError):  # not a number; a body that is not text
            return False
        if abs(self._clock() - sent) > self.MAX_AGE_SECONDS:
            return False
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def may(allowed: SlackUsers, user: str, action: str) -> bool:
    """Whether this Slack user may press this button (acknowledging is for anyone who may act)."""
    if action == LOCKDOWN:
        return user in allowed.lockdown
    if action == RELEASE:
        return user in allowed.release
    return user in allowed.lockdown | allowed.release


# Writes a ledger record for one step about an event unless it exists (leash.ledger.Ledger.record_once):
# (the stored record, whether this call wrote it).
RecordOnce = Callable[[Mapping[str, Any], str], tuple[Mapping[str, Any], bool]]

ACKNOWLEDGED = "acknowledge"  # the ledger step (sort key) of an alert's one acknowledgement


class Interactions:
    """Verifies and performs one Slack interaction; every dependency is passed in.

    An alert is acknowledged once: the first click writes the ledger record (keyed by the alert's
    eventID and the step), later clicks read it back and say who acknowledged it, and when.
    """

    def __init__(
        self,
        verifier: Verifier,
        allowed: SlackUsers,
        seen_before: Callable[[str], bool],  # records a signature; True if it was already recorded
        start_workflow: Callable[
            [str, str, Mapping[str, Any]], str
        ],  # (lockdown|release, name, input) -> outcome
        acknowledge: RecordOnce,
        update_message: Callable[[str, Mapping[str, Any]], None],  # (response_url, payload)
        log: Callable[[str, Mapping[str, Any]], None] = lambda message, extra: None,
        clock: Callable[[], float] = time.time,
        acknowledge_incident: Callable[[str, str], None] | None = None,  # (incident id, who): leash.incidents
    ):
        self._verifier = verifier
        self._allowed = allowed
        self._seen_before = seen_before
        self._start = start_workflow
        self._acknowledge = acknowledge
        self._update = update_message
        self._log = log
        self._clock = clock
        self._acknowledge_incident = acknowledge_incident

    def handle(self, body: str, headers: Mapping[str, Any]) -> Reply:
        headers = {k.lower(): v for k, v in headers.items() if isinstance(k, str) and isinstance(v, str)}
        timestamp, signature = headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
        if not self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            self._log(
                "refused: bad or missing Slack signature, or a request older than five minutes",
                {"timestamp": timestamp},
            )
            return Reply(401, "invalid signature")
        if signature is None or self._seen_before(signature):
            self._log("refused: replayed Slack request", {"timestamp": timestamp})
            return Reply(401, "replayed request")
        click = _button_click(body)
        if isinstance(click, str):
            self._log("refused: not a Leash button click", {"error": click})
            return Reply(400, "not a Leash action")
        payload, user, action, value = click
        action_id, user_id = action["action_id"], user["id"]
        if action_id not in (LOCKDOWN, RELEASE, ACKNOWLEDGE):
            return Reply(400, "unknown action")
        if not may(self._allowed, user_id, action_id):
            self._log("refused: Slack user not allowed", {"user": user_id, "action": action_id})
            return Reply(403, "you are not allowed to do this")
        name = next((n for n in (user.get("username"), user.get("name")) if n and _short_text(n)), "?")
        who = f"slack:{user_id} ({name})"
        now = datetime.fromtimestamp(self._clock(), UTC).strftime("%H:%M:%SZ")
        if action_id == ACKNOWLEDGE:
            record, first = self._acknowledge(
                {
                    "eventId": value.get("eventId", ""),
                    "kind": "acknowledge",
                    "outcome": "acknowledged",
                    "actor": who,
                    "slackUser": user_id,
                    "resource": value.get("principal", ""),
                    "detail": value.get("title", ""),
                },
                ACKNOWLEDGED,
            )
            if first and value.get("incident") and self._acknowledge_incident is not None:
                # The incident's parent message: its running summary says who acknowledged it from now on.
                self._acknowledge_incident(value["incident"], f"<@{user_id}> at {now}")
            if first:
                line = f":eyes: Acknowledged by <@{user_id}> at {now}."
            else:
                by = f"<@{record['slackUser']}>" if record.get("slackUser") else str(record.get("actor", "?"))
                line = (
                    f":eyes: Already acknowledged by {by} at {_when(record.get('time'))}; nothing more to do."
                )
        elif action_id == LOCKDOWN and permission_set_of(value["principal"]):
            # A button from before Leash stopped offering it: AWS manages the role and IAM refuses to change it.
            line = (
                f":no_entry: Not locked down: {value['principal'].rsplit('/', 1)[-1]} is an IAM Identity Center"
                " permission set's role, shared by every user of the set; revoke the user's access in IAM"
                " Identity Center (see the alert)."
            )
        else:
            workflow = "lockdown" if action_id == LOCKDOWN else "release"
            name = _execution_name(workflow, value)
            outcome = self._start(
                workflow,
                name,
                {
                    "principal": value["principal"],
                    "reason": f"from Slack: {value.get('title', '')}"[:1000],
                    "requestedBy": who,
                    "trigger": "slack",
                    # Each click's input differs: a second start of the same name is then refused with
                    # ExecutionAlreadyExists even while the first runs (same name and same input would be
                    # an idempotent success, and the second click would read "started").
                    "requestedAt": datetime.fromtimestamp(self._clock(), UTC).isoformat(
                        timespec="microseconds"
                    ),
                },
            )
            verb = "Lockdown" if workflow == "lockdown" else "Release"
            if outcome == "already-started":
                line = f":hourglass: {verb} of {value['principal']} was already started; nothing more to do."
            else:
                line = f":lock: {verb} of {value['principal']} started by <@{user_id}> at {now}."
        self._log("accepted", {"user": user_id, "action": action_id, "principal": value.get("principal")})
        if _is_response_url(payload.get("response_url")):
            self._update(payload["response_url"], _updated_message(_object(payload.get("message")), line))
        return Reply(200, "")


_MAX_VALUE_TEXT = 2_048  # a button's value holds 2,000 characters; an ARN is at most 2,048


def _short_text(value: Any) -> bool:
    """Text that fits a DynamoDB key and an execution input, and that UTF-8 can carry."""
    if not isinstance(value, str) or len(value) > _MAX_VALUE_TEXT:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _button_click(
    body: str,
) -> tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]] | str:
    """The payload, user, action and button value of a block_actions request, or why it is not one."""
    try:
        payload = json.loads(parse_qs(body)["payload"][0])
        user, action = payload["user"], payload["actions"][0]
        value = json.loads(action["value"])
    except (KeyError, IndexError, TypeError, ValueError, RecursionError) as exc:
        return repr(exc)[:200]
    if not all(isinstance(part, Mapping) for part in (payload, user, action, value)):
        return "payload, user, action or button value is not an object"
    if not _short_text(user.get("id")) or not isinstance(action.get("action_id"), str):
        return "no user id or action id"
    if not all(_short_text(value.get(key, "")) for key in ("principal", "eventId", "title", "incident")):
        return "the button value's principal, eventId, title or incident is not short text"
    if action["action_id"] in (LOCKDOWN, RELEASE) and not value.get("principal"):
        return "no principal to lock down or release"
    return payload, user, action, value


def _is_response_url(url: Any) -> bool:
    """Slack's response_url (or a local stand-in in tests): never another scheme or host."""
    return isinstance(url, str) and url.startswith(
        ("https://hooks.slack.com/", "http://127.0.0.1:", "http://localhost:")
    )


def _execution_name(workflow: str, value: Mapping[str, Any]) -> str:
    """Same alert, same action -> same name: Step Functions starts it once, whoever clicks twice."""
    digest = hashlib.sha256(f"{value.get('eventId')}|{value.get('principal')}".encode()).hexdigest()[:32]
    return f"slack-{workflow}-{digest}"


def _when(stamp: Any) -> str:
    """A ledger record's `time` (2026-11-22T21:04:36.512000Z) as the messages show it: 2026-11-22 21:04:36Z."""
    try:
        return datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%S.%fZ").strftime("%Y-%m-%d %H:%M:%SZ")
    except ValueError:
        return str(stamp)


def _updated_message(message: Mapping[str, Any], line: str) -> dict[str, Any]:
    """The original message without its buttons, plus who did what and when."""
    blocks = message.get("blocks")
    kept = (
        [b for b in blocks if isinstance(b, Mapping) and b.get("type") != "actions"]
        if isinstance(blocks, list)
        else []
    )
    kept.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
    return {"replace_original": True, "text": _text(message.get("text")) or line, "blocks": kept}
