"""The responder's commands against a deployed Leash stack: lock down, release, status.

Every AWS call goes through `Aws.errors`, which turns botocore's exceptions (credentials, profiles,
SSO, network, denials) into a `ResponderError` whose message says, in one line, what to do.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from leash.ledger import FEED, FEED_ATTRIBUTE, TIME_INDEX
from leash.model import is_denied


class ResponderError(Exception):
    """Something the responder can fix; the message says what."""


PERMISSIONS_HINT = "the permissions the responder needs are listed in the README (The `leash` command)"
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_NOT_ACCEPTED = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "AuthFailure",
    "MissingAuthenticationToken",
}
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
}


@dataclass
class Aws:
    """A boto3 session, and what an error message must name: the profile, the region and its source, the caller."""

    session: Any
    profile: str | None  # as chosen by --profile or AWS_PROFILE; None: the default credential chain
    region_source: str  # where the region came from: "--region", "samconfig.toml", "your AWS config"
    caller: str | None = None  # the caller's ARN, once sts:GetCallerIdentity answered

    @property
    def region(self) -> str:
        return str(self.session.region_name)

    def client(self, service: str) -> Any:
        with self.errors(f"{service} (creating its client)"):
            return self.session.client(service)

    def identify(self) -> str:
        """The caller's ARN (sts:GetCallerIdentity needs no permission)."""
        if self.caller is None:
            sts = self.client("sts")
            with self.errors("sts:GetCallerIdentity"):
                self.caller = str(sts.get_caller_identity()["Arn"])
        return self.caller

    @contextmanager
    def errors(self, call: str) -> Iterator[None]:
        """Around an AWS call: any botocore error becomes a ResponderError in plain words."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            raise ResponderError(_one_line(self._client_error(exc, call))) from exc
        except BotoCoreError as exc:
            raise ResponderError(
                _one_line(explain_botocore(exc, call, self.profile, self.region_text))
            ) from exc

    @property
    def region_text(self) -> str:
        return f"{self.session.region_name} (from {self.region_source})"

    def _client_error(self, exc: Any, call: str) -> str:
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        if is_denied(code):  # every service's spelling, as the spike rules read CloudTrail
            caller = self.caller or self._caller_if_known()
            who = caller or "your credentials" + _profile_words(self.profile)
            return f"AWS denied {call} to {who}: {PERMISSIONS_HINT}. AWS said: {message}"
        return explain_client_error(code, message, call, self.profile)

    def _caller_if_known(self) -> str | None:
        """For a denial's message: who is calling, if STS answers (it needs no permission). Best effort."""
        try:
            self.caller = str(self.session.client("sts").get_caller_identity()["Arn"])
        except Exception:  # noqa: BLE001 - the denial is the error to report, not this
            return None
        return self.caller


def explain_client_error(code: str, message: str, call: str, profile: str | None) -> str:
    """An error answered by AWS, as the responder can act on it."""
    if code in _EXPIRED:
        return (
            f"Your AWS credentials{_profile_words(profile)} have expired ({call} answered {code}): "
            f"refresh them ({_login_hint(profile)}, or new temporary credentials) and retry."
        )
    if code in _NOT_ACCEPTED:
        return (
            f"AWS does not accept your credentials{_profile_words(profile)} ({call} answered {code}: "
            f"{message}): check the access key, its secret and this machine's clock."
        )
    if code in _THROTTLED:
        return f"AWS throttled {call} even after retries ({code}): wait a moment and retry."
    return f"{call} failed: {code}: {message}"


def explain_botocore(exc: Exception, call: str, profile: str | None, region: str) -> str:
    """A botocore error raised on this side (configuration, credentials, network) in plain words."""
    from botocore import exceptions as e

    fields: dict[str, Any] = getattr(exc, "kwargs", {}) or {}
    named = fields.get("profile") or profile
    if isinstance(exc, e.ProfileNotFound):
        return (
            f"There is no AWS profile named {named!r}{_profile_source(named)} in your AWS config "
            "(~/.aws/config, ~/.aws/credentials): check the name (aws configure list-profiles)."
        )
    if isinstance(exc, e.NoCredentialsError):
        return (
            f"No AWS credentials found{_profile_words(profile)}. Configure them (aws configure, "
            "aws sso login, --profile or AWS_PROFILE) and retry."
        )
    if isinstance(exc, e.PartialCredentialsError):
        return f"Incomplete AWS credentials in {fields.get('provider')}: {fields.get('cred_var')} is missing."
    if isinstance(exc, e.SSOError) or (
        isinstance(exc, e.TokenRetrievalError) and "sso" in str(fields.get("provider", "")).lower()
    ):
        return (
            f"Your AWS SSO session{_profile_words(profile)} has expired or was never started: "
            f"run `aws sso login{_profile_flag(profile)}` and retry."
        )
    if isinstance(exc, e.LoginError):
        return (
            f"Your AWS login session{_profile_words(profile)} has expired: "
            f"run `aws login{_profile_flag(profile)}` and retry."
        )
    if isinstance(exc, e.TokenRetrievalError | e.CredentialRetrievalError):
        return (
            f"Could not get AWS credentials{_profile_words(profile)} from {fields.get('provider')}: "
            f"{fields.get('error_msg') or 'it gave no reason (run it by hand to see its output)'}"
        )
    if isinstance(exc, e.NoRegionError):
        return "No AWS region set: pass --region, set AWS_REGION, or set a region in your AWS profile."
    if isinstance(exc, e.InvalidRegionError):
        return f"{fields.get('region_name')!r} is not a region name (regions look like us-east-1)."
    if isinstance(exc, e.ProxyConnectionError):
        return (
            f"Could not connect to the proxy {fields.get('proxy_url')} for {call}: "
            "check HTTPS_PROXY / HTTP_PROXY and your network."
        )
    if isinstance(exc, e.SSLError):
        return (
            f"TLS verification failed for the endpoint {fields.get('endpoint_url')} ({call}): "
            "a proxy may intercept HTTPS; set AWS_CA_BUNDLE to its certificate. "
            f"Region used: {region}."
        )
    if isinstance(exc, e.ConnectionError | e.HTTPClientError):
        # A bad region would also end here (no such host), but so does every network problem:
        # name the endpoint and the region used, and let the responder judge.
        return (
            f"Could not reach the endpoint {fields.get('endpoint_url') or '(unknown)'} for {call}: "
            "check your network connection and proxy settings (HTTPS_PROXY, NO_PROXY). "
            f"Region used: {region}."
        )
    return f"{call} failed: {exc}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _profile_words(profile: str | None) -> str:
    return f" (profile {profile})" if profile else ""


def _profile_flag(profile: str | None) -> str:
    return f" --profile {profile}" if profile else ""


def _profile_source(profile: str | None) -> str:
    if profile and os.environ.get("AWS_PROFILE") == profile:
        return " (from AWS_PROFILE)"
    return ""


def _login_hint(profile: str | None) -> str:
    return f"aws sso login{_profile_flag(profile)}"


def connect(profile: str | None, region: str | None, region_source: str) -> Aws:
    """A boto3 session for `profile` (else the environment's) in `region` (else the AWS config's).

    `region_source` says where `region` came from (--region, samconfig.toml), for the messages.
    """
    import boto3
    from botocore.exceptions import BotoCoreError

    chosen = profile or os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or None
    try:  # a profile that does not exist, or a config file that does not parse, fails here
        session = boto3.Session(profile_name=profile, region_name=region)
    except BotoCoreError as exc:
        message = explain_botocore(exc, "reading your AWS configuration", chosen, region or "")
        raise ResponderError(_one_line(message)) from exc
    if not session.region_name:
        raise ResponderError(
            "No AWS region set: pass --region, set AWS_REGION, or set a region in samconfig.toml "
            f"or your AWS profile{_profile_words(chosen)}."
        )
    if not region:
        region_source = next(
            (v for v in ("AWS_REGION", "AWS_DEFAULT_REGION") if os.environ.get(v) == session.region_name),
            f"your AWS config{_profile_words(chosen)}",
        )
    aws = Aws(session, chosen, region_source)
    aws.client("sts")  # a malformed region is refused here, before any call
    return aws


@dataclass(frozen=True)
class Stack:
    name: str
    region: str
    lockdown_arn: str
    release_arn: str
    ledger_table: str


def find_stack(aws: Aws, name: str) -> Stack:
    """The deployed Leash stack's workflows and ledger, from its CloudFormation outputs."""
    from botocore.exceptions import ClientError

    cloudformation = aws.client("cloudformation")
    with aws.errors("cloudformation:DescribeStacks"):
        try:
            stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if "does not exist" not in str(exc):
                raise
            raise ResponderError(
                f"Stack {name!r} not found in {aws.region} (region from {aws.region_source}). Deploy Leash "
                "there, or pass --stack-name / --region."
            ) from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = {"LockdownStateMachineArn", "ReleaseStateMachineArn", "LedgerTableName"} - set(outputs)
    if missing:
        raise ResponderError(
            f"Stack {name!r} has no {', '.join(sorted(missing))} output: is it a Leash stack?"
        )
    return Stack(
        name,
        aws.region,
        outputs["LockdownStateMachineArn"],
        outputs["ReleaseStateMachineArn"],
        outputs["LedgerTableName"],
    )


@dataclass(frozen=True)
class Outcome:
    status: str  # SUCCEEDED | FAILED | ...
    headline: str
    detail: str
    refused: bool
    execution_arn: str

    def to_json(self, principal: str, workflow: str) -> dict[str, Any]:
        """The document `--json` prints."""
        return {
            "workflow": workflow,
            "principal": principal,
            "status": self.status,
            "headline": self.headline,
            "detail": self.detail,
            "refused": self.refused,
            "executionArn": self.execution_arn,
        }


class Interrupted(Exception):
    """Ctrl-C while starting or waiting: the execution (maybe) runs on; this says where to follow it."""

    def __init__(self, execution_arn: str, started: bool):
        super().__init__(execution_arn)
        self.execution_arn = execution_arn
        self.started = started  # False: interrupted before StartExecution answered

    @property
    def state_machine_arn(self) -> str:
        head, _, _name = self.execution_arn.rpartition(":")
        return head.replace(":execution:", ":stateMachine:", 1)

    def to_json(self, principal: str, workflow: str) -> dict[str, Any]:
        """The document `--json` prints: `started` is null when Ctrl-C came before StartExecution answered."""
        if self.started:
            headline = f"{workflow} interrupted: the workflow keeps running"
        else:
            headline = f"{workflow} interrupted while starting: it may or may not have started"
        return {
            "workflow": workflow,
            "principal": principal,
            "status": "INTERRUPTED",
            "headline": headline,
            "detail": "",
            "refused": False,
            "executionArn": self.execution_arn,
            "started": True if self.started else None,
        }

    def explain(self, workflow: str, profile: str | None) -> str:
        """What happened and how to follow the execution, for the responder's terminal."""
        arn = self.execution_arn
        region = arn.split(":")[3]
        flags = f" --region {region}{_profile_flag(profile)}"
        describe = f"aws stepfunctions describe-execution --execution-arn {arn}{flags}"
        console = (
            f"https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{arn}"
        )
        if self.started:
            return (
                f"Interrupted: the {workflow} keeps running in AWS (Ctrl-C only stopped the waiting).\n"
                f"Execution: {arn}\n"
                f"Follow it: {describe}\n"
                f"       or: {console}"
            )
        return (
            f"Interrupted while starting the {workflow}: it may or may not have started.\n"
            f"If it did, its execution is: {arn}\n"
            f"Check: {describe}  (ExecutionDoesNotExist: it did not start)\n"
            f"   or: aws stepfunctions list-executions --state-machine-arn {self.state_machine_arn}{flags}\n"
            f"   or: {console}"
        )


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives an execution of this name: known before it starts."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def run_workflow(
    aws: Aws,
    state_machine_arn: str,
    payload: dict[str, Any],
    sleep: Callable[[float], None] | None = None,
    timeout_seconds: float = 300,
    on_started: Callable[[str], None] | None = None,
) -> Outcome:
    """Start an execution and wait for its end; the outcome is what the workflow notified.

    The execution is named here, so its ARN is known even if Ctrl-C comes before StartExecution
    answers; a KeyboardInterrupt becomes `Interrupted` with that ARN.
    """
    sleep = sleep or time.sleep
    sfn = aws.client("stepfunctions")
    name = f"cli-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"
    arn = execution_arn(state_machine_arn, name)
    started = False
    try:
        with aws.errors("states:StartExecution"):
            arn = sfn.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload)
            )["executionArn"]
        started = True
        if on_started:
            on_started(arn)
        return _wait(aws, sfn, arn, sleep, timeout_seconds)
    except KeyboardInterrupt:
        raise Interrupted(arn, started) from None


def _wait(aws: Aws, sfn: Any, arn: str, sleep: Callable[[float], None], timeout_seconds: float) -> Outcome:
    waited = 0.0
    with aws.errors("states:DescribeExecution"):
        result = sfn.describe_execution(executionArn=arn)
    while result["status"] == "RUNNING" and waited < timeout_seconds:
        sleep(1.0)
        waited += 1.0
        with aws.errors("states:DescribeExecution"):
            result = sfn.describe_execution(executionArn=arn)
    if result["status"] == "RUNNING":
        return Outcome("RUNNING", f"still running after {timeout_seconds:.0f} s", arn, False, arn)
    state = json.loads(result.get("output") or "{}")
    notice = state.get("notice") or {}
    if not notice:  # Fail states carry no output: the history's last state input holds the notice
        with aws.errors("states:GetExecutionHistory"):
            events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=50)["events"]
        for event in reversed(events):
            details = event.get("stateEnteredEventDetails")
            if details and "notice" in (data := json.loads(details.get("input") or "{}")):
                notice = data["notice"]
    headline = (
        notice.get("headline")
        or f"{result['status']}: {result.get('error', '')} {result.get('cause', '')}".strip()
    )
    detail = notice.get("detail", result.get("cause", ""))
    if result.get("error") == "Leash.NoticeUndelivered":  # done, but nobody was told: say that too
        detail = f"{detail}\n{result.get('cause', '')}".strip()
    return Outcome(result["status"], headline, detail, result.get("error") == "Leash.PrincipalRefused", arn)


_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since_time(text: str, now: datetime | None = None) -> str:
    """`--since` as the ledger writes times (UTC ISO-8601): 30m, 24h, 7d, 2w, or an ISO date or time."""
    now = now or datetime.now(UTC)
    if match := _DURATION.match(text.strip().lower()):
        moment = now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(
                f"--since takes a duration (30m, 24h, 7d, 2w) or an ISO date or time "
                f"(2026-01-15, 2026-01-15T09:30, UTC unless an offset is given), not {text!r}"
            ) from None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def recent_ledger(aws: Aws, table: str, limit: int = 20, since: str | None = None) -> list[dict[str, Any]]:
    """The newest ledger records (lockdowns, releases, remediations, acknowledgements), newest first.

    A Query on the sparse byTime index (partition feed = "ledger", sort key time), never a scan.
    """
    from boto3.dynamodb.types import TypeDeserializer
    from botocore.exceptions import ClientError

    des = TypeDeserializer()
    condition = "#feed = :feed" + (" AND #time >= :since" if since else "")
    values = {":feed": {"S": FEED}, **({":since": {"S": since}} if since else {})}
    query: dict[str, Any] = {
        "TableName": table,
        "IndexName": TIME_INDEX,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": {"#feed": FEED_ATTRIBUTE, "#time": "time"}
        if since
        else {"#feed": FEED_ATTRIBUTE},
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
    }
    dynamodb = aws.client("dynamodb")
    items: list[dict[str, Any]] = []
    while len(items) < limit:  # a page stops at 1 MB: ask again for the rest
        with aws.errors("dynamodb:Query"):
            try:
                page = dynamodb.query(**query, Limit=limit - len(items))
            except ClientError as exc:
                # DynamoDB says ValidationException ("does not have the specified index"), moto
                # ResourceNotFoundException ("Invalid index"): either way the index is named.
                if f"index: {TIME_INDEX}" in str(exc) or "specified index" in str(exc):
                    raise ResponderError(
                        f"The ledger table {table} has no {TIME_INDEX} index: the stack was deployed by an "
                        "older Leash. Deploy this version (sam deploy) and retry."
                    ) from exc
                raise
        items += [{k: des.deserialize(v) for k, v in item.items()} for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items


def plain(record: dict[str, Any]) -> dict[str, Any]:
    """A ledger record as JSON can carry it: DynamoDB numbers as int or float."""

    def value(v: Any) -> Any:
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() else float(v)
        if isinstance(v, set):
            return sorted(value(x) for x in v)
        if isinstance(v, list):
            return [value(x) for x in v]
        if isinstance(v, dict):
            return {k: value(x) for k, x in v.items()}
        return v

    return {k: value(v) for k, v in record.items()}


def short_arn(text: str) -> str:
    """An ARN as a responder reads it: role/NAME, assumed-role/NAME/SESSION, user/NAME, the resource."""
    if not text.startswith("arn:"):
        return text
    parts = text.split(":", 5)
    if len(parts) < 6:
        return text
    service, resource = parts[2], parts[5]
    if service in ("iam", "sts"):
        kind, _, rest = resource.partition("/")
        if kind in ("role", "user", "group", "policy") and rest:
            return f"{kind}/{rest.rsplit('/', 1)[-1]}"  # the path goes: names are unique without it
        return resource
    return resource.lstrip(":") or text


def _principal_of(record: dict[str, Any]) -> str:
    if record.get("resource"):
        return str(record["resource"])
    pk = str(record.get("pk", ""))
    return pk.split("#", 1)[1] if pk.startswith("principal#") else ""


def _fit(text: str, width: int, breaks: str = "/") -> list[str]:
    """`text` on lines of `width`, broken only after a character of `breaks` (a '/' keeps every name
    whole); a piece longer than the line ends in an ellipsis."""
    lines: list[str] = []
    current = ""
    for piece in re.findall(rf"[^{breaks}]*[{breaks}]|[^{breaks}]+$", text):
        if current and len(current) + len(piece) > width:
            lines.append(current)
            current = ""
        current += piece
    lines.append(current)
    return [line if len(line) <= width else line[: width - 1] + "…" for line in lines]


WHEN_WIDTH = 22  # "YYYY-MM-DD HH:MM:SS", and what happened under it, broken after a '-'
_GAPS = 2 * 2  # three columns, two spaces between each (collapsed padding, no edges)


def ledger_table(records: list[dict[str, Any]], title: str, width: int) -> Any:
    """The records as a table that reads at `width` columns: short ARNs, times to the second, details cut.

    Three columns: when and what (kind or protection, outcome); the principal or resource and who
    acted, broken only after a '/'; the detail, on as many lines as the row has, ending in an ellipsis.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    rows = []
    for r in records:
        who = short_arn(str(r.get("requestedBy") or r.get("actor") or ""))
        what = str(r.get("kind") or r.get("protection") or "")
        when = [
            str(r.get("time", ""))[:19].replace("T", " "),
            *_fit(what, WHEN_WIDTH, "-"),
            str(r.get("outcome", "")),
        ]
        rows.append((when, short_arn(_principal_of(r)), f"by {who}" if who else "", str(r.get("detail", ""))))
    principal_w = min(
        max([len(row[1]) for row in rows] + [len("principal / by")]),
        max(20, (width - _GAPS - WHEN_WIDTH) // 2),
    )
    detail_w = max(10, width - _GAPS - WHEN_WIDTH - principal_w)
    table = Table(
        title=Text(title),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("when / what", width=WHEN_WIDTH, no_wrap=True, overflow="ellipsis")
    table.add_column("principal / by", width=principal_w, no_wrap=True, overflow="ellipsis")
    table.add_column("detail", width=detail_w, no_wrap=True, overflow="ellipsis")
    for when, principal, by, detail in rows:
        parties = _fit(principal, principal_w) + (_fit(by, principal_w) if by else [])
        height = max(2, len(when), len(parties))
        lines = textwrap.wrap(detail, detail_w, max_lines=height, placeholder=" …", break_on_hyphens=False)
        # Text, not markup: ledger values are data ("[Leash critical]", ARNs with brackets in a name).
        table.add_row(Text("\n".join(when)), Text("\n".join(parties)), Text("\n".join(lines)))
    return table
