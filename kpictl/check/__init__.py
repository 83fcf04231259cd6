"""`kpictl check`: `check` runs the `rules` (one module per family, each yields
findings), `catalog` lists every finding code, `suppress` applies inline ignores,
`findings` is what a check reports and `formats` writes it (text, JSON, GitHub, SARIF,
JUnit)."""
