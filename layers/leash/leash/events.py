"""The CloudTrail record carried by an EventBridge event (an API call or a console sign-in), as a typed object."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leash.model import CLOUDTRAIL_DETAIL_TYPE, CONSOLE_SIGN_IN_DETAIL_TYPES, detail_type_of

# The detail-types Leash's rules take (template.yaml): API calls, and console sign-ins.
ACCEPTED_DETAIL_TYPES = (CLOUDTRAIL_DETAIL_TYPE, *CONSOLE_SIGN_IN_DETAIL_TYPES)
SIGN_IN_SOURCE, CONSOLE_LOGIN = "signin.amazonaws.com", "ConsoleLogin"


class MalformedEvent(ValueError):
    """The event is not a usable CloudTrail API call; the message says why."""


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One CloudTrail record: who called what, where, with which parameters and outcome."""

    event_id: str
    event_name: str
    event_source: str  # "rds.amazonaws.com"
    region: str
    account: str
    time: datetime
    user_identity: Mapping[str, Any]
    request_parameters: Mapping[str, Any] = field(default_factory=dict)
    response_elements: Mapping[str, Any] = field(default_factory=dict)
    additional_event_data: Mapping[str, Any] = field(default_factory=dict)
    resources: tuple[Mapping[str, Any], ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    read_only: bool | None = None
    source_ip: str | None = None
    user_agent: str | None = None

    @property
    def service(self) -> str:
        """Short service name as IAM spells it in actions: "rds", "s3", "iam"."""
        return self.event_source.split(".", 1)[0]

    @property
    def action(self) -> str:
        """The IAM-style action, e.g. "rds:DeleteDBInstance"."""
        return f"{self.service}:{self.event_name}"

    @property
    def console_sign_in(self) -> bool:
        """A console sign-in (eventType AwsConsoleSignIn): not an API call, whoever made it."""
        return self.event_source == SIGN_IN_SOURCE and self.event_name == CONSOLE_LOGIN

    @property
    def failed(self) -> bool:
        # A failed sign-in has no errorCode: only an errorMessage and responseElements.ConsoleLogin "Failure".
        return self.error_code is not None or self.response_elements.get(CONSOLE_LOGIN) == "Failure"

    def param(self, path: str) -> Any:
        """A request parameter by dotted path; lists are searched, first hit wins."""
        values = list(iter_path(self.request_parameters, path))
        return values[0] if values else None


def iter_path(value: Any, path: str) -> Iterator[Any]:
    """Every value found under a dotted path, flattening lists on the way (CloudTrail loves lists)."""
    parts = path.split(".") if path else []

    def walk(node: Any, i: int) -> Iterator[Any]:
        if isinstance(node, list):
            for item in node:
                yield from walk(item, i)
            return
        if i == len(parts):
            if node is not None:
                yield node
            return
        if isinstance(node, Mapping) and parts[i] in node:
            yield from walk(node[parts[i]], i + 1)

    yield from walk(value, 0)


def _mapping(detail: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = detail.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedEvent(f"detail.{key} is a {type(value).__name__}, expected an object")
    return value


# CloudTrail's eventID is a UUID; Leash keys the ledger and the idempotency store by it (DynamoDB
# refuses keys over 2,048 bytes). Any short token of these characters is accepted (tests, replays).
_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# What CloudTrail writes in these fields is text; IAM caps an ARN at 2,048 characters.
_MAX_TEXT = 2_048
_SURROGATE = re.compile("[\ud800-\udfff]")


def _required_str(detail: Mapping[str, Any], key: str) -> str:
    value = detail.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"detail.{key} is missing or not a string")
    if len(value) > _MAX_TEXT:
        raise MalformedEvent(f"detail.{key} is {len(value)} characters long, more than CloudTrail writes")
    return value


def _optional_str(detail: Mapping[str, Any], key: str) -> str | None:
    value = detail.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedEvent(f"detail.{key} is a {type(value).__name__}, expected a string")
    return value


def _event_id(detail: Mapping[str, Any]) -> str:
    value = _required_str(detail, "eventID")
    if not _EVENT_ID.fullmatch(value):
        raise MalformedEvent(
            f"detail.eventID {value[:80]!r} is not an event ID (letters, digits, ._:-, 128 at most)"
        )
    return value


def parse_time(value: str) -> datetime:
    """CloudTrail's ISO-8601 UTC timestamps ("2026-11-22T21:04:36Z"); one without a zone is read as UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (AttributeError, ValueError) as exc:
        raise MalformedEvent(f"time {value!r} is not an ISO-8601 timestamp") from exc


def encodable(value: Any) -> Any:
    """The JSON value, with every lone surrogate (JSON can carry "\\ud800", UTF-8 cannot) replaced by U+FFFD.

    Text that cannot be encoded would fail every AWS call made with it (publish, put_item), so the call
    is kept and alerted on with that character replaced, rather than lost. A value without one (nearly
    all: the check is a walk that only encodes non-ASCII text) is returned as it is.
    """
    return _replace_surrogates(value) if _has_surrogate(value) else value


def _has_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is str:
            if not node.isascii():
                try:
                    node.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif kind is dict:
            stack.extend(node.keys())
            stack.extend(node.values())
        elif kind is list:
            stack.extend(node)
    return False


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_surrogates(v) for v in value]
    return value


def parse_cloudtrail_record(detail: Mapping[str, Any], *, account: str | None = None) -> ApiCall:
    """Turn a raw CloudTrail record (the EventBridge `detail`) into an ApiCall."""
    if not isinstance(detail, Mapping):
        raise MalformedEvent("detail is not an object")
    account_id = detail.get("recipientAccountId")
    if account_id is not None and not isinstance(account_id, str):
        raise MalformedEvent(f"detail.recipientAccountId is a {type(account_id).__name__}, expected a string")
    identity = detail.get("userIdentity")
    if not isinstance(identity, Mapping):
        raise MalformedEvent("detail.userIdentity is missing")
    read_only = detail.get("readOnly")
    resources = detail.get("resources") or ()
    if not isinstance(resources, list | tuple):
        raise MalformedEvent("detail.resources is not a list")
    return ApiCall(
        event_id=_event_id(detail),
        event_name=_required_str(detail, "eventName"),
        event_source=_required_str(detail, "eventSource"),
        region=_required_str(detail, "awsRegion"),
        account=account_id
        or (account if isinstance(account, str) else "")
        or _text(identity.get("accountId")),
        time=parse_time(_required_str(detail, "eventTime")),
        user_identity=identity,
        request_parameters=_mapping(detail, "requestParameters"),
        response_elements=_mapping(detail, "responseElements"),
        additional_event_data=_mapping(detail, "additionalEventData"),
        resources=tuple(r for r in resources if isinstance(r, Mapping)),
        error_code=_optional_str(detail, "errorCode"),
        error_message=_optional_str(detail, "errorMessage"),
        read_only=read_only if isinstance(read_only, bool) else None,
        source_ip=_optional_str(detail, "sourceIPAddress"),
        user_agent=_optional_str(detail, "userAgent"),
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_event(event: Mapping[str, Any]) -> ApiCall:
    """Turn an EventBridge "AWS API Call via CloudTrail" (or "AWS Console Sign In via CloudTrail") event into an ApiCall.

    Raises MalformedEvent with a reason a human can act on, never anything else: wrongly typed or
    oversized fields are refused here, and text UTF-8 cannot carry is made encodable (`encodable`).
    """
    if not isinstance(event, Mapping):
        raise MalformedEvent(f"event is a {type(event).__name__}, expected an object")
    detail_type = event.get("detail-type")
    if detail_type not in ACCEPTED_DETAIL_TYPES:
        raise MalformedEvent(
            f"detail-type is {detail_type!r}, expected {CLOUDTRAIL_DETAIL_TYPE!r} or a console sign-in"
        )
    if "detail" not in event:
        raise MalformedEvent("event has no detail")
    return parse_cloudtrail_record(encodable(event["detail"]), account=encodable(event.get("account")))


def wrap_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap a CloudTrail log record in the EventBridge envelope it would arrive in (the record is its detail, not a copy).

    The detail-type follows the record's eventType as EventBridge's does: a sign-in is no API call, and a
    service event is neither. A type EventBridge is not known to deliver gets none, and no rule matches it.
    """
    source = str(record.get("eventSource", "")).split(".", 1)[0]
    return {
        "version": "0",
        "id": record.get("eventID", ""),
        "detail-type": detail_type_of(record.get("eventType")),
        "source": f"aws.{source}",
        "account": record.get("recipientAccountId", ""),
        "time": record.get("eventTime", ""),
        "region": record.get("awsRegion", ""),
        "resources": [],
        "detail": record,
    }
