"""Rendering templates: `render` makes the one Jinja environment, `sandbox` bounds it
(with `limits` and `overrides`), `escaping` holds the filters for each output language."""
