"""Errors that end a run before anything is changed (exit 2)."""


class UsageError(Exception):
    """Bad command line, profile or ROOT: reported in one line, exit 2, nothing changed."""


class ProfileError(UsageError):
    """A profile that does not validate; the message lists every problem with its place."""
