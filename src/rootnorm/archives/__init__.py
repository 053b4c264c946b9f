"""Archive formats (gzip, zip family, ar): pure planning code, no file-system writes.

Each format module turns a seekable binary stream into a `Plan` (the bytes the normalised
archive is made of, mostly ranges copied from the original) or raises `Unsupported`. The
handlers in `rootnorm.handlers` only wire these to the run.
"""
