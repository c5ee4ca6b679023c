"""``python -m session_runtime.cli``: the same as the ``session-runtime`` command."""

from .main import app

app(prog_name="session-runtime")
