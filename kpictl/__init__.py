"""kpictl: one git-versioned source of truth for marketing KPIs and who answers for them."""

__version__ = "0.1.0"
