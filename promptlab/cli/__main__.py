"""`python -m promptlab.cli ...`: how job workers are started (no console script needed)."""

import sys

from promptlab.cli import main

sys.exit(main())
