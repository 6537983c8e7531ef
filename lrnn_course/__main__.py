"""``python -m lrnn_course ...`` is the same as the ``lrnn-course`` command."""

from .cli import main

raise SystemExit(main())
