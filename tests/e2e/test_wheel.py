"""A built wheel, installed in a fresh virtual environment, runs `leash replay` outside any checkout.

The wheel is built offline from this checkout (pip wheel --no-build-isolation) and installed without
its dependencies; the fresh environment sees the dependencies of the development one through a .pth
file, but not its editable leash: only what the wheel ships is imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def build_wheel(source: Path, into: Path) -> Path:
    """pip wheel, offline, of a checkout or an sdist; the one wheel it made."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-build-isolation", "--no-deps",
                    "-w", str(into), str(source)], check=True, capture_output=True)  # fmt: skip
    (wheel,) = into.glob("leash-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    where = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(ROOT, where / "dist")
    env_dir = where / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "leash-dev-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return env_dir, where


def test_the_wheel_ships_the_template_and_replays_a_sample_outside_a_checkout(installed):
    env_dir, where = installed
    sample = ROOT / "events" / "rds-delete-db-instance-skip-final-snapshot-by-agent.json"
    result = subprocess.run(
        [str(env_dir / "bin" / "leash"), "replay", "--format", "jsonl", str(sample)],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (decision,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (decision["eventName"], decision["severity"]) == ("DeleteDBInstance", "critical")
    where_from = subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-c",
            "import leash, leash_cli.template as t; print(leash.__file__); print(t.TEMPLATE)",
        ],
        cwd=where,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(str(env_dir) in path for path in where_from), where_from  # not this checkout's files


def test_the_wheel_lists_the_rules_it_ships(installed):
    env_dir, where = installed
    result = subprocess.run(
        [str(env_dir / "bin" / "leash"), "rules"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "DestructiveData" in result.stdout


def test_a_wheel_built_from_the_sdist_ships_the_app_too(tmp_path):
    """python -m build makes the sdist first and the wheel from it: MANIFEST.in must carry what setup.py copies."""
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (sdist,) = tmp_path.glob("leash-*.tar.gz")
    wheel = build_wheel(sdist, tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "leash_cli/app/template.yaml",
        "leash_cli/app/statemachines/lockdown.asl.json",
        "leash_cli/app/functions/notify/app.py",
    } <= names
