"""rootnorm: make OS image root filesystems reproducible and fast to boot."""

import sys

# rootnorm often runs with the target's own interpreter inside the tree it processes: it must
# never write bytecode there. (Modules imported before this line are covered by `-B`.)
sys.dont_write_bytecode = True

__version__ = "0.1.0"
