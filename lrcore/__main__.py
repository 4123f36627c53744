"""``python -m lrcore``: see lrcore.cli."""
import sys

from lrcore.cli import main

sys.exit(main())
