"""Content formats that are not archives but carry a build time: gettext catalogues, PNG
images, javadoc pages. Each module's `plan(src, size, target)` is a pure function of a
seekable byte stream, planned like an archive (`rootnorm.archives.plan`): None when nothing
changes, a Plan streamed by the writer, or Unsupported for input it will not touch."""
