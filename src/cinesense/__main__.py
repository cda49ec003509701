"""``python -m cinesense`` (and ``torchrun -m cinesense``): the command line."""

import sys

from cinesense.cli import main

if __name__ == "__main__":
    sys.exit(main())
