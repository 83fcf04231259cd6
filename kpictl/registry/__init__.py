"""Files → documents → entities → a `Registry`: the first stage everything else reads.

`reading` reads files safely and within limits, `loader` parses YAML with positions,
`membership` says which files belong, `models` and `config` are the entities and
settings, `schema_errors` words validation errors, `bounds` the limits numbers and dates
are held to, `registry` puts it together; `resolve` says who a reference means and
`lineage` walks what a KPI is built from (and any graph of ids: the KPI tree too).
"""
