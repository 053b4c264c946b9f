"""Parsers of small file formats that record build times (shadow, Java keystores, conda's
repodata state). Each is a pure function of bytes, so a fuzz target can call it directly."""
