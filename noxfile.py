"""ci_tools' sessions: `nox -l` lists them; every one is defined in ci_tools.sessions."""

import nox

from ci_tools import sessions

nox.options.default_venv_backend = "none"
nox.options.sessions = ["tests", "lint"]

sessions.register()
