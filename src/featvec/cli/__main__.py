"""``python -m featvec.cli``: the featvec command."""
import sys

from featvec.cli import main

sys.exit(main())
