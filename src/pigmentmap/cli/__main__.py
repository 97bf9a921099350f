"""``python -m pigmentmap.cli``: the same as the ``pigmentmap`` command."""

import sys

from pigmentmap.cli import main

sys.exit(main())
