"""Stores: the ``Store`` protocol and its implementations."""

from ..domain.ports import SessionQuery, Store
from .postgres import PostgresStore
from .sqlite import SqliteStore

__all__ = ["PostgresStore", "SessionQuery", "SqliteStore", "Store"]
