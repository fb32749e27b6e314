"""``python -m gesturegan.cli`` runs the command line (as ``python -m gesturegan`` does)."""

import sys

from . import main

sys.exit(main())
