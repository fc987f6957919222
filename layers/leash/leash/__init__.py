"""Leash: keep AI coding agents on a leash in an AWS account.

The logic of every Leash Lambda lives here; the handlers in functions/ are thin adapters.
"""

__version__ = "0.1.0"
