"""Python bytecode cache formats: header layouts, source hashes, where the source lives."""
