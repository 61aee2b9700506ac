"""`python -m auki_session`: the `auki-session` command line."""

from .cli import main

raise SystemExit(main())
