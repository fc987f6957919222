"""samconfig.toml: SAM's own parser accepts it, and `leash replay` reads the values SAM would deploy.

SAM CLI lives in its own virtual environment (it pins its own boto3): `make lint` creates .venv-sam;
set LEASH_SAM_PYTHON to use another one.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from leash_cli.samconfig import SamConfigError, deploy_parameters, stack_defaults
from leash_cli.template import load_template

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = Path(os.environ.get("LEASH_SAM_PYTHON", ROOT / ".venv-sam" / "bin" / "python"))
SAM_READS = """
import json, sys
from pathlib import Path
from samcli.cli.types import CfnParameterOverridesType
from samcli.lib.config.samconfig import SamConfig
path = Path(sys.argv[1])
config = dict(SamConfig(path.parent, path.name).get_all(["deploy"], "parameters", env=sys.argv[2]).items())
overrides = CfnParameterOverridesType().convert(config.get("parameter_overrides"), None, None)
print(json.dumps({"overrides": overrides, "region": config.get("region")}))
"""


def sam_reads(path: Path, env: str = "default") -> dict:
    """What `sam deploy --config-env ENV` takes from the file: SAM's config provider and its override parser."""
    if not SAM_PYTHON.exists():
        pytest.skip(f"SAM CLI is not installed at {SAM_PYTHON}: run `make lint`")
    out = subprocess.run([str(SAM_PYTHON), "-c", SAM_READS, str(path), env], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_sam_accepts_this_repositorys_samconfig_and_replay_reads_the_same_values():
    sam = sam_reads(ROOT / "samconfig.toml")
    assert sam["overrides"] == deploy_parameters(ROOT / "samconfig.toml")
    assert (
        sam["overrides"]["AgentRoleNames"] == ""
    )  # empty, not '""': replay classifies agents as SAM deploys
    assert stack_defaults(ROOT / "samconfig.toml") == ("leash", sam["region"])
    parameters = load_template()["Parameters"]
    assert set(sam["overrides"]) <= set(parameters), "samconfig.toml names a parameter template.yaml lacks"


@pytest.mark.parametrize(
    "overrides",
    [
        'parameter_overrides = ["AgentRoleNames=\\"\\"", "AgentRoleNamePrefix=ai-agent-", "AlertEmail=\\"on call@example.com\\""]',
        "parameter_overrides = \"AgentRoleNames='' AgentRoleNamePrefix=ai-agent- ExemptPrincipalArns=a,b\"",
        '[prod.deploy.parameters.parameter_overrides]\nAgentRoleNames = ["ai-agent-a", "ai-agent-b"]\nAutoLockdown = "off"',
    ],
    ids=["list-with-quotes", "one-string", "table-with-a-list"],
)
def test_every_way_of_writing_parameters_reads_as_sam_reads_it(tmp_path, overrides):
    env = "prod" if overrides.startswith("[prod") else "default"
    body = overrides if env == "prod" else f"[default.deploy.parameters]\n{overrides}"
    path = tmp_path / "samconfig.toml"
    path.write_text(
        f'version = 0.1\n[{env}.deploy.parameters]\nregion = "eu-west-1"\n'
        + body.replace(f"[{env}.deploy.parameters]\n", "")
        + "\n"
    )
    assert deploy_parameters(path, env) == sam_reads(path, env)["overrides"]


def test_an_unknown_environment_is_a_clear_error(tmp_path):
    with pytest.raises(SamConfigError, match=r"has no \[prod\] environment"):
        deploy_parameters(ROOT / "samconfig.toml", "prod")
