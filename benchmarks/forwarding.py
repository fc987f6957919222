"""What the region forwarders send, and what it costs, on the replay benchmark's typical mix.

Each record of benchmarks/replay.py's typical mix (90% routine calls, 5% an agent's reads, 3% denied
calls, 2% the events/ samples) is given EventBridge's envelope and tried against the forwarder rules of
forwarders.yaml, as deployed in a region other than the home region. Counts the events forwarded, the
copies (an event that two forwarder rules match is sent twice) and what the home rules would match.

Cost: EventBridge bills events that a rule sends to an event bus in another Region as custom events,
$1.00 per million (64 KB chunks; AWS management events themselves are free on the default bus), plus
inter-Region data transfer; see https://aws.amazon.com/eventbridge/pricing/.

Run: .venv/bin/python benchmarks/forwarding.py [records] [events per region per month]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay import ACCOUNT, make_records

from leash.events import wrap_record
from leash_cli.template import APP_ROOT, Router, deployment_for, eventbridge_rules, load_template

PRICE_PER_MILLION = 1.00  # USD, cross-Region event delivery (billed as custom events)
DATA_TRANSFER_PER_GB = 0.02  # USD, inter-Region data transfer out of most US/EU regions


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    monthly = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
    forwarder = load_template(APP_ROOT / "forwarders.yaml")
    deployment = deployment_for(
        forwarder,
        {"LeashStackName": "leash", "HomeRegion": "eu-west-1", "ForwarderRoleArn": "arn"},
        account=ACCOUNT,
        region="us-east-1",
    )
    forward = Router(eventbridge_rules(forwarder, deployment))
    home_template = load_template()
    home = Router(
        eventbridge_rules(
            home_template, deployment_for(home_template, {}, account=ACCOUNT, region="eu-west-1")
        )
    )
    events = copies = at_home = size = 0
    for record in make_records(total, "typical"):
        event = wrap_record(record)
        matched = len(forward.route(event))
        events += matched > 0
        copies += matched
        at_home += bool(home.route(event))
        size += matched * len(json.dumps(event))
    share = copies / total
    per_month = share * monthly
    cost = per_month / 1e6 * PRICE_PER_MILLION
    transfer = size / total * monthly / 1e9 * DATA_TRANSFER_PER_GB
    print(f"records {total:,}: forwarded {events:,} events ({events / total:.1%}), {copies:,} copies "
          f"({copies - events:,} duplicates); home rules match {at_home:,}")  # fmt: skip
    print(f"per region with {monthly:,} management events a month: {per_month:,.0f} forwarded, "
          f"${cost:,.2f} delivery + ${transfer:,.2f} data transfer per month")  # fmt: skip


if __name__ == "__main__":
    main()
