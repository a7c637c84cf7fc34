"""``python -m autograder ...``: see autograder/cli.py."""

import sys

from autograder.commands.cli import main

sys.exit(main())
