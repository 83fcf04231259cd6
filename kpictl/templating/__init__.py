"""Rendering templates: `render` makes the one Jinja environment, `sandbox` bounds it
(with `limits` and `overrides`), `escaping` holds the filters for each output language,
`narrow` the look-alikes for a terminal that cannot show every character."""
