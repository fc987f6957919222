"""Cold-start import time of each handler next to a bare `import boto3`, measured in one run.

Each sample is a fresh interpreter (as a Lambda cold start is); prints the median of N runs. The
leash package is loaded as the deployed layer holds it: compiled to bytecode by layers/leash/Makefile
(`sam build`), never written back (Lambda's /opt is read-only). Pass --source to load it from
source instead, as a layer without bytecode would.
Run: .venv/bin/python benchmarks/coldstart.py [N] [--source] [--compare=OTHER_CHECKOUT]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONPATH": str(ROOT / "layers" / "leash"),
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:leash-alerts",
    "IDEMPOTENCY_TABLE": "leash-idempotency",
    "SLACK_DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/111122223333/slack-dlq",
    "LEDGER_TABLE": "leash-ledger",
    "SPIKE_TABLE": "leash-spikes",
    "LEASH_EVENT_BUS": "leash-leash",
    "LOCKDOWN_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:111122223333:stateMachine:lockdown",
    "RELEASE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:111122223333:stateMachine:release",
    "SLACK_SIGNING_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:signing",
    "POWERTOOLS_METRICS_NAMESPACE": "Leash",
}
PROBE = """
import time, importlib.util, sys
t = time.perf_counter()
{body}
print((time.perf_counter() - t) * 1000)
"""
HANDLERS = ("notify", "reapply", "spikes", "slack_forwarder", "interactions")
BASELINE = "boto3 + one client"


def handler_body(root: Path, fn: str) -> str:
    app = str(root / "functions" / fn / "app.py")
    return (
        f"spec = importlib.util.spec_from_file_location('app', {app!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)"
    )


TARGETS: dict[str, tuple[str, str | None]] = {  # name -> (probe, PYTHONPATH or None for the default)
    "import boto3 (bare)": ("import boto3", None),
    BASELINE: ("import boto3; boto3.client('sns')", None),
    **{f"functions/{fn}/app.py": (handler_body(ROOT, fn), None) for fn in HANDLERS},
}


def sample(body: str, pythonpath: str | None = None) -> float:
    env = ENV if pythonpath is None else {**ENV, "PYTHONPATH": pythonpath}
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=body)], env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"could not import:\n{body}\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def compiled_layer(into: Path) -> Path:
    """The leash package as layers/leash/Makefile puts it in the layer: bytecode beside the source."""
    shutil.copytree(
        ROOT / "layers" / "leash" / "leash", into / "leash", ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-f", "--invalidation-mode", "unchecked-hash", str(into)],
        check=True,
    )
    return into


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    runs = int(args[0]) if args else 15
    if "--source" not in sys.argv:
        ENV["PYTHONPATH"] = str(compiled_layer(Path(tempfile.mkdtemp(prefix="leash-layer-"))))
    for option in sys.argv[1:]:
        if option.startswith(
            "--compare="
        ):  # another checkout's handlers, its layer from source, in the same run
            other = Path(option.split("=", 1)[1]).resolve()
            for fn in HANDLERS:
                TARGETS[f"{other.name}: functions/{fn}/app.py"] = (
                    handler_body(other, fn),
                    str(other / "layers" / "leash"),
                )
    for _ in range(2):  # warm the OS file cache so every target is measured alike
        for body, path in TARGETS.values():
            sample(body, path)
    # Round robin: each run samples every target once, so a slow minute of a shared machine hits them all.
    times: dict[str, list[float]] = {name: [] for name in TARGETS}
    for _ in range(runs):
        for name, (body, path) in TARGETS.items():
            times[name].append(sample(body, path))
    layer = "from source" if "--source" in sys.argv else "compiled as sam build does"
    print(f"median of {runs} fresh interpreters, Python {sys.version.split()[0]}, leash {layer}")
    baseline = statistics.median(times[BASELINE])
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"  {name:48s} {median:7.1f} ms  {median / baseline:4.2f}x")


if __name__ == "__main__":
    main()
