"""``python -m gesturegan`` (and ``torchrun -m gesturegan train ...``) runs the command line."""

import sys

from .cli import main

sys.exit(main())
