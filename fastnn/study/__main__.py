"""``python -m fastnn.study``: the ``fastnn study`` command without the main CLI."""

import sys

from fastnn.study.cli import main

sys.exit(main())
