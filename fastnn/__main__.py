"""``python -m fastnn``: the same commands as the ``fastnn`` script."""

from fastnn.cli import main

raise SystemExit(main())
