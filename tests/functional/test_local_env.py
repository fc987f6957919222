"""local/env.json, the --env-vars file of `sam local invoke`, stays true to template.yaml.

SAM passes a function only the variables the template declares for it, so a name the template lost
would be ignored silently, and a name it gained would reach the function as SAM resolves it locally (a
resource's logical ID, not its name or ARN): the file names exactly the template's variables ("Parameters": the Globals every function gets; one entry per function: its
own), and every handler starts with those values.
"""

from __future__ import annotations

import json
import logging

import pytest
from conftest import ROOT, load_handler

from leash_cli.template import load_template

ENV_FILE = ROOT / "local" / "env.json"


@pytest.fixture(scope="module")
def template():
    return load_template()


@pytest.fixture(scope="module")
def env_file():
    return json.loads(ENV_FILE.read_text())


def _functions(template) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def test_parameters_are_the_globals_every_function_gets(template, env_file):
    assert set(env_file["Parameters"]) == set(template["Globals"]["Function"]["Environment"]["Variables"])


def test_one_entry_per_function_with_exactly_its_variables(template, env_file):
    declared = {
        logical_id: set(function["Properties"].get("Environment", {}).get("Variables", {}))
        for logical_id, function in _functions(template).items()
    }
    assert set(env_file) - {"Parameters"} == {logical_id for logical_id, names in declared.items() if names}
    for logical_id, names in declared.items():
        assert set(env_file.get(logical_id, {})) == names, logical_id


def test_values_are_strings_for_this_sam_local_account(env_file):
    for entry in env_file.values():
        for name, value in entry.items():
            assert isinstance(value, str), name  # Lambda's environment is strings only
            if value.startswith(("arn:", "https://sqs.")):  # in sam local's region and account
                assert "us-east-1" in value and "123456789012" in value, name


@pytest.mark.parametrize("logical_id", sorted(_functions(load_template())))
def test_each_handler_starts_with_these_values(template, env_file, aws, monkeypatch, logical_id):
    """A cold start reads and validates every setting: the file's values pass the handlers' own checks."""
    for name, value in {**env_file["Parameters"], **env_file[logical_id]}.items():
        monkeypatch.setenv(name, value)
    code_uri = _functions(template)[logical_id]["Properties"]["CodeUri"]
    # Powertools binds its logger to the stdout of the moment: leave the logger as it was, so no later
    # test's logger writes into this test's capture.
    service = logging.getLogger(env_file[logical_id].get("POWERTOOLS_SERVICE_NAME", "service_undefined"))
    before = {**vars(service), "handlers": list(service.handlers)}
    try:
        handler = load_handler(code_uri.strip("/").split("/")[-1])
    finally:
        vars(service).clear()
        vars(service).update(before)
    assert callable(handler.lambda_handler)
