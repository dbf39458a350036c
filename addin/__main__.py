"""python -m addin: the same as the `leadq` command."""

from .cli import main

raise SystemExit(main())
