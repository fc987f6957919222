"""samconfig.toml as `sam deploy` reads it: one environment's deploy parameters, stack name and region.

`leash replay` and the responder commands read the same file, so that a backtest uses exactly the
parameters the deployed stack has. tests/functional/test_samconfig.py runs SAM's own parser (in its
virtual environment) over this repository's samconfig.toml and asserts both readings agree.
"""

from __future__ import annotations

import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class SamConfigError(ValueError):
    """samconfig.toml cannot be read as `sam deploy` would read it; the message says where."""


def _environment(path: Path, env: str) -> Mapping[str, Any]:
    if not path.exists():
        return {}
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SamConfigError(f"{path} is not valid TOML: {exc}") from None
    if env != "default" and env not in config:
        raise SamConfigError(
            f"{path} has no [{env}] environment (sam deploy --config-env {env} would fail too)"
        )
    section = config.get(env, {})
    return section if isinstance(section, Mapping) else {}


def deploy_parameters(path: Path, env: str = "default") -> dict[str, str]:
    """The environment's parameter_overrides: a table, a list of "Key=Value" or one string, quotes as SAM reads them."""
    raw = _environment(path, env).get("deploy", {}).get("parameters", {}).get("parameter_overrides", {})
    if isinstance(raw, Mapping):
        return {str(k): _text(v) for k, v in raw.items()}
    items = [raw] if isinstance(raw, str) else list(raw)
    out: dict[str, str] = {}
    for item in items:
        for token in shlex.split(str(item)):
            key, sep, value = token.partition("=")
            if not sep or not key:
                raise SamConfigError(f"{path}: parameter_overrides entry {token!r} is not Key=Value")
            out[key] = value
    return out


def stack_defaults(path: Path, env: str = "default") -> tuple[str | None, str | None]:
    """(stack name, region) of the environment, as `sam deploy` would use them."""
    config = _environment(path, env)
    deploy = config.get("deploy", {}).get("parameters", {})
    name = config.get("global", {}).get("parameters", {}).get("stack_name") or deploy.get("stack_name")
    return name, deploy.get("region")


def _text(value: Any) -> str:
    """A TOML value as SAM passes it on: lists joined with commas, anything else as Python writes it."""
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)
