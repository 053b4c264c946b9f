"""rootnorm: make OS image root filesystems reproducible and fast to boot."""

__version__ = "0.1.0"
