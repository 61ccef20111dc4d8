"""`python -m wengert ...` is the `wengert` command."""

import sys

from .cli import main

sys.exit(main())
