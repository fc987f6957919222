"""Alerts that fit their channels: resource lists capped, free text clipped, never an alert dropped for its size.

An alert names what a call touched in a few words ("i-0abc, i-0def and 998 more"); the full list stays
in the ledger and the CloudTrail event. Whatever else is long (a reason, a user agent, a forged
message) is clipped in steps that are the same every time, until the channel's limit is met.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from leash.alerts import Alert

SNS_MESSAGE_BYTES = 262_144  # SNS Publish: "at most 256 KB (262,144 bytes, not 262,144 characters)"
CLIPPED = "… [clipped]"
SHOWN_NAMES = 2  # names an alert shows of a longer list before "and N more"

# From generous to terse: (characters per string, items per list). Each step is tried in turn.
STEPS: tuple[tuple[int, int], ...] = ((4000, 50), (1000, 20), (200, 10), (100, 3))
KEYS_PER_OBJECT = 32  # an Alert's objects have at most 17 keys; more only in a forged message


def json_size(data: Any) -> int:
    """Bytes of the data as JSON text (json.dumps escapes every non-ASCII character: one byte each)."""
    return len(json.dumps(data))


def names(values: Sequence[str], shown: int = SHOWN_NAMES) -> str:
    """Distinct names joined for an alert: all of up to shown + 1, else the first few "and N more"."""
    distinct = list(dict.fromkeys(values))
    if len(distinct) <= shown + 1:
        return ", ".join(distinct)
    return f"{', '.join(distinct[:shown])} and {len(distinct) - shown} more"


def fit[T](alert: Alert, render: Callable[[Alert], T], size: Callable[[T], int], limit: int) -> T:
    """The alert rendered for a channel, if size(rendered) <= limit; else the rendering of the first clipped
    form that fits (or of the tersest). Each form is rendered once: what was measured is what is sent."""
    rendered = render(alert)
    if size(rendered) <= limit:
        return rendered
    data = alert.to_dict()
    for chars, items in STEPS:
        rendered = render(Alert.from_dict(_clip(data, chars, items)))
        if size(rendered) <= limit:
            break
    return rendered


def clip_text(text: str, chars: int) -> str:
    """The text, or its first characters and a marker, chars long at most."""
    return text if len(text) <= chars else text[: max(0, chars - len(CLIPPED))] + CLIPPED


def _clip(value: Any, chars: int, items: int) -> Any:
    if isinstance(value, str):
        return clip_text(value, chars)
    if isinstance(value, dict):
        kept = list(value.items())[:KEYS_PER_OBJECT]
        return {clip_text(str(k), chars): _clip(v, chars, items) for k, v in kept}
    if isinstance(value, list | tuple):
        if len(value) <= items:
            return [_clip(v, chars, items) for v in value]
        # The last kept item says how many were left out (in "What Leash did", a note).
        return [_clip(v, chars, items) for v in value[: items - 1]] + [f"… and {len(value) - items + 1} more"]
    return value
