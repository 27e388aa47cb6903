"""``python -m cadenza`` (and ``torchrun -m cadenza train ...``): the cadenza command."""

import sys

from cadenza.cli import main

if __name__ == "__main__":
    sys.exit(main())
