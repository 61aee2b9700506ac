"""`python -m auki_session`: the `auki-session` command line."""

from ._cli import main

raise SystemExit(main())
