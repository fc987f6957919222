"""An AI agent's session on the emulated account, and the CloudTrail record each of its calls leaves.

The agent assumes its role through STS and calls AWS with boto3 like any agent does. botocore's event
hooks write, for every call, the record CloudTrail would deliver (identity, request parameters in
CloudTrail's spelling, response, error code), which the demo routes by template.yaml's rules. A record's
awsRegion is the region of the client that made the call, and us-east-1 for the global services (IAM's
calls are recorded, and delivered to EventBridge, there only).

moto does not enforce IAM, so the session applies its role's explicit denies itself before each
call, as IAM would: the guardrail policy attached to the role, and the deny-all a lockdown adds.
Conditions are not evaluated (the only conditional deny Leash writes, the session revocation, sits
beside a deny-all). Denied calls fail with AccessDenied and leave a record with that error code.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from types import SimpleNamespace
from typing import Any

from leash_build.regions import GLOBAL_EVENT_SOURCES, GLOBAL_REGION

Record = dict[str, Any]
SOURCE_IP = "203.0.113.42"
USER_AGENT = "claude-code/2.1.4 (agent) boto3/1.35 md/prompt#off"


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def cloudtrail_value(shape: Any, value: Any, service: str) -> Any:
    """A boto3 value as CloudTrail spells it: camelCase names (EC2: the wire names, lists as {"items": []})."""
    if value is None or shape is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            if name in value:
                key = member.serialization.get("name") if service == "ec2" else None  # the wire name
                out[key or _camel(name)] = cloudtrail_value(member, value[name], service)
        return out
    if kind == "list":
        items = [cloudtrail_value(shape.member, v, service) for v in value]
        return {"items": items} if service == "ec2" else items
    if kind == "map":
        return {k: cloudtrail_value(shape.value, v, service) for k, v in value.items()}
    if kind == "timestamp":
        return value.strftime("%b %d, %Y, %I:%M:%S %p") if isinstance(value, datetime) else value
    if kind == "blob":
        return None
    return value


def request_parameters(model: Any, params: dict[str, Any]) -> dict[str, Any] | None:
    service = model.service_model.endpoint_prefix
    if service == "s3":  # S3 writes the bucket and key in camelCase and the XML body as it was sent
        body = {k: v for k, v in params.items() if k not in ("Bucket", "Key")}
        out: dict[str, Any] = {
            "bucketName": params.get("Bucket"),
            "Host": f"{params.get('Bucket')}.s3.amazonaws.com",
        }
        if "Key" in params:
            out["key"] = params["Key"]
        if model.name == "PutBucketVersioning":
            out["versioning"] = ""
            body["VersioningConfiguration"] = {
                **body.get("VersioningConfiguration", {}),
                "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
            }
        return {**out, **body}
    return cloudtrail_value(model.input_shape, params, service) or None


class AgentSession:
    """boto3 clients for an agent's assumed-role session; each call's CloudTrail record goes to `record`."""

    def __init__(
        self,
        role_name: str,
        session_name: str,
        record: Callable[[Record], None],
        *,
        source_identity: str | None = None,
        region: str | None = None,  # None: the environment's (AWS_DEFAULT_REGION)
    ):
        import boto3

        self._admin_iam = boto3.client("iam")
        role = self._admin_iam.get_role(RoleName=role_name)["Role"]
        assume = {"SourceIdentity": source_identity} if source_identity else {}
        assumed = boto3.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName=session_name, **assume)
        credentials = assumed["Credentials"]
        self.role_name = role_name
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # the eventTime of each record
        self.arn = assumed["AssumedRoleUser"]["Arn"]
        self._record = record
        self._session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
        )
        self.identity = {
            "type": "AssumedRole",
            "principalId": assumed["AssumedRoleUser"]["AssumedRoleId"],
            "arn": self.arn,
            "accountId": role["Arn"].split(":")[4],
            "accessKeyId": credentials["AccessKeyId"],
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role["RoleId"],
                    "arn": role["Arn"],
                    "accountId": role["Arn"].split(":")[4],
                    "userName": role_name,
                },
                "attributes": {
                    "creationDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "mfaAuthenticated": "false",
                },
                **({"sourceIdentity": source_identity} if source_identity else {}),
            },
        }

    def client(self, service: str, region: str | None = None) -> Any:
        """A client of the agent's session, in the session's region or another one."""
        client = self._session.client(service, region_name=region or self._session.region_name)
        events = client.meta.events
        events.register("before-parameter-build.*.*", self._keep_parameters)
        events.register("before-call.*.*", self._apply_explicit_denies)
        events.register("after-call.*.*", partial(self._write_record, region=client.meta.region_name))
        return client

    # --- hooks --------------------------------------------------------------------------------

    @staticmethod
    def _keep_parameters(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["leash_parameters"] = copy.deepcopy(params)

    def _apply_explicit_denies(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        action = f"{model.service_model.signing_name}:{model.name}"
        policy = self._denied_by(action)
        if policy is None:
            return None
        message = (
            f"User: {self.arn} is not authorized to perform: {action} with an explicit deny in an "
            f"identity-based policy ({policy})"
        )
        return (
            SimpleNamespace(status_code=403, headers={}),  # botocore raises ClientError from this
            {
                "Error": {"Code": "AccessDenied", "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            },
        )

    def _write_record(
        self,
        http_response: Any,
        parsed: dict[str, Any],
        model: Any,
        context: dict[str, Any],
        region: str,
        **_: Any,
    ) -> None:
        service = model.service_model.endpoint_prefix
        if f"{service}.amazonaws.com" in GLOBAL_EVENT_SOURCES:
            region = GLOBAL_REGION
        params = context.get("leash_parameters", {})
        error = parsed.get("Error") if isinstance(parsed, dict) else None
        record: Record = {
            "eventVersion": "1.10",
            "userIdentity": copy.deepcopy(self.identity),
            "eventTime": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": f"{service}.amazonaws.com",
            "eventName": model.name,
            "awsRegion": region,
            "sourceIPAddress": SOURCE_IP,
            "userAgent": USER_AGENT,
            "requestParameters": request_parameters(model, params),
            "responseElements": None
            if error or service == "s3"
            else cloudtrail_value(
                model.output_shape, {k: v for k, v in parsed.items() if k != "ResponseMetadata"}, service
            )
            or None,
            "requestID": str(uuid.uuid4()),
            "eventID": str(uuid.uuid4()),
            "readOnly": model.name.startswith(("Get", "Describe", "List", "Head")),
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": self.identity["accountId"],
            "eventCategory": "Management",
        }
        if error:
            record["errorCode"], record["errorMessage"] = error.get("Code"), error.get("Message")
        self._record(json.loads(json.dumps(record, default=str)))

    # --- IAM, as far as the demo needs it ------------------------------------------------------

    def _denied_by(self, action: str) -> str | None:
        """The name of a policy on the role that explicitly denies this action (unconditionally), or None."""
        iam = self._admin_iam
        documents = []
        for name in iam.list_role_policies(RoleName=self.role_name)["PolicyNames"]:
            documents.append(
                (name, iam.get_role_policy(RoleName=self.role_name, PolicyName=name)["PolicyDocument"])
            )
        for attached in iam.list_attached_role_policies(RoleName=self.role_name)["AttachedPolicies"]:
            policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = iam.get_policy_version(
                PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
            )
            documents.append((attached["PolicyName"], version["PolicyVersion"]["Document"]))
        for name, document in documents:
            if isinstance(document, str):
                document = json.loads(document)
            statements = document.get("Statement", [])
            for statement in statements if isinstance(statements, list) else [statements]:
                if statement.get("Effect") != "Deny" or "Condition" in statement:
                    continue
                actions = statement.get("Action", [])
                for pattern in [actions] if isinstance(actions, str) else actions:
                    if fnmatch.fnmatchcase(action.lower(), pattern.lower()):
                        return name
        return None
