"""Stores: the ``Store`` protocol and its implementations."""

from ..domain.ports import SessionQuery, Store
from .sqlite import SqliteStore

__all__ = ["SessionQuery", "SqliteStore", "Store"]
