"""`python -m rnnlab`: the command line (see rnnlab.cli)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
