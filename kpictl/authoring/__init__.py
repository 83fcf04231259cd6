"""Writing a registry: init, new, fmt, the JSON Schema, the calendar, drill."""
