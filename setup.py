"""Packaging: everything is in pyproject.toml but one step.

The `leash` command reads template.yaml and runs the code it deploys (the demo's handlers and
workflows, replay's rules). A wheel ships a copy of those files in leash_cli/app/, so that
`pip install leash-*.whl` gives a working `leash demo` and `leash replay` outside a checkout.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
APP_FILES = ["template.yaml", "statemachines/*.asl.json", "functions/*/app.py"]  # MANIFEST.in lists the same


class BuildWithApp(build_py):
    """build_py, plus template.yaml and what it deploys, copied into leash_cli/app/."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "leash_cli" / "app"
        if not (ROOT / "template.yaml").is_file():
            raise SystemExit("template.yaml is missing: build the wheel from a checkout or from Leash's sdist")
        for pattern in APP_FILES:
            for source in sorted(ROOT.glob(pattern)):
                destination = target / source.relative_to(ROOT)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)


setup(cmdclass={"build_py": BuildWithApp})
