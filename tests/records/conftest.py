"""The record world of ``fixtures.record_world`` for the store's tests."""

from fixtures.record_world import world

__all__ = ["world"]
