"""The one Jinja environment, its bounded sandbox and the escaping filters."""
