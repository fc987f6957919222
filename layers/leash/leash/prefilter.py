"""A prefilter on JSON text: skip, undecoded, the CloudTrail records that no rule can match (replay)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Needle = tuple[str, tuple[str, ...] | None]
"""A field a matching event must have: its key, and its string value as regex atoms (None: any value)."""

_WS = r"[ \t\n\r]*"  # JSON's whitespace
_ANY = r'(?:[^"\\]|\\.)*'  # any run of a JSON string's text, escapes included


def text_prefilter(
    patterns: list[Mapping[str, Any]], *, weak: frozenset[str] = frozenset()
) -> Callable[[bytes], bool] | None:
    """`might_match(json_text)`: False only when no pattern can match the object that text encodes.

    Lets a reader skip, without decoding, the records that no rule can match. Each pattern must name
    at least one field whose value it requires, as an exact string, prefix, suffix, wildcard or
    `exists: true` (else None: no prefilter); the text is searched for that key followed by such a
    value, or by an array (then the object is decoded and matched as usual). Text with a \\u or \\/
    escape always "might match". Fields named in `weak` (values most events share, like
    CloudTrail's eventSource) are looked for only when a pattern requires nothing else. The text may
    be bytes or any buffer (a msgspec.Raw): it is searched, never copied.
    """
    needles: set[Needle] = set()
    for pattern in patterns:
        found = _object_needles(pattern, weak)
        if found is None:
            return None
        needles |= found
    # One scan, one regex: a quote, a key, then a value it accepts (or an array: decoded to be sure),
    # written as a trie so that each character is tried once whatever the number of needles.
    sequences = []
    for key, value in needles:
        head = (*map(re.escape, key), '"', _WS, ":", _WS)
        sequences.extend([head] if value is None else [(*head, r"\["), (*head, *value)])
    # \u and \/ can spell any character of a key or value another way: text with one always might match.
    # Other escapes (\" \\ \n ...) spell characters that no needle's literal text contains.
    # (Two searches: each starts with one literal character, which the regex engine scans for fast.)
    search, escape = re.compile(('"' + _trie(sequences)).encode()).search, re.compile(rb"\\[u/]").search

    def might_match(text: bytes) -> bool:
        return search(text) is not None or escape(text) is not None

    return might_match


def _trie(sequences: list[tuple[str, ...]]) -> str:
    """One regex for "any of these sequences of regex atoms", common prefixes written once."""
    if any(not sequence for sequence in sequences):
        return ""  # one sequence ends here: finding this much is enough
    branches: dict[str, list[tuple[str, ...]]] = {}
    for sequence in sequences:
        branches.setdefault(sequence[0], []).append(sequence[1:])
    alternatives = [atom + _trie(rest) for atom, rest in sorted(branches.items())]
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"


def _object_needles(pattern: Mapping[str, Any], weak: frozenset[str]) -> frozenset[Needle] | None:
    # A conjunction: every field must match, so any one field's needles will do; take the one that
    # looks most selective: not a weak field, the most alternatives (a list of event names), the longest.
    candidates = []
    for key, sub in pattern.items():
        if key == "$or":
            found: frozenset[Needle] | None = frozenset()
            for clause in sub:
                needles = _object_needles(clause, weak)
                found = None if needles is None or found is None else found | needles
        elif isinstance(sub, Mapping):
            found = _object_needles(sub, weak)
        else:
            found = _leaf_needles(key, sub)
        if found:
            strong = not any(k in weak for k, _ in found)
            shortest = min(len(v or ()) for _, v in found)
            candidates.append((strong, len(found), shortest, sorted(found, key=str), found))
    if not candidates:
        return None
    return max(candidates, key=lambda c: c[:4])[-1]


def _leaf_needles(key: str, matchers: list[Any]) -> frozenset[Needle] | None:
    """What the key's string value looks like in JSON text (quotes included), for each matcher."""
    if _escaped(key):
        return None
    needles: set[Needle] = set()
    for m in matchers:
        op, arg = next(iter(m.items())) if isinstance(m, Mapping) and len(m) == 1 else ("", m)
        if op == "exists" and arg is True:
            needles.add((key, None))
            continue
        if type(arg) is not str or _escaped(arg):
            return None  # numbers, booleans, null; anything JSON escapes; and every matcher below but these:
        text = tuple(map(re.escape, arg))
        if op == "":
            needles.add((key, ('"', *text, '"')))
        elif op == "prefix":
            needles.add((key, ('"', *text)))
        elif op == "suffix":
            needles.add((key, ('"', _ANY, *text, '"')))
        elif op == "wildcard":
            atoms = [atom for part in arg.split("*") for atom in (_ANY, *map(re.escape, part))][1:]
            needles.add((key, ('"', *atoms, '"')))
        else:
            return None  # anything-but, numeric, cidr, equals-ignore-case, exists: false
    return frozenset(needles)


def _escaped(value: str) -> bool:
    """Whether JSON must escape part of this string (then it never appears as is)."""
    return '"' in value or "\\" in value or any(ord(c) < 0x20 for c in value)
