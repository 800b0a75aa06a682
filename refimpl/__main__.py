"""``python -m refimpl``: see :mod:`refimpl.run.cli`."""
import sys

from .run.cli import main

sys.exit(main())
