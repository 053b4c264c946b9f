"""Parsers of file formats that are not archives but record a build time: shadow files, Java
keystores, conda's repodata state, gettext catalogues, PNG images, javadoc pages. Each is a
pure function of bytes or of a seekable stream, so a fuzz target can call it directly; mo, png
and javadoc are planned like an archive (`rootnorm.archives.plan`)."""
