"""`kpictl check`: the rules (one module per family), the finding catalog, inline
ignores, and the output formats findings are written in."""
