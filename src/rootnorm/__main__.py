"""`python -m rootnorm`."""

import sys

from rootnorm.cli import main

sys.exit(main())
