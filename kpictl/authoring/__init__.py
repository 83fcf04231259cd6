"""Writing a registry: `scaffold` (init), `authoring` (new), `fmt` with `yamlfmt`,
`yamlorder` and `yamlscan`, `schema` (JSON Schema), `cadence` (calendar), `drill`."""
