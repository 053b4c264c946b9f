"""Pure analysis used by the audit handlers and the fontconfig fixer: no decisions, no writes."""
