"""The ``session-runtime`` command: a trusted operator tool over the service and the database.

Every command works on the SQLite file directly (``--database``, default
``./var/session-runtime.db`` or ``$SESSION_RUNTIME_DATABASE_PATH``) as the ``SYSTEM``
principal, except ``serve``, which runs the HTTP server on it.
"""

from .main import app

__all__ = ["app"]
