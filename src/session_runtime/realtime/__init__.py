"""Change feeds: in-process fan-out (and, with PostgreSQL, across server nodes)."""

from .hub import LocalChangeFeed, Mailbox

__all__ = ["LocalChangeFeed", "Mailbox"]
