"""Files to a `Registry`: YAML documents with positions, pydantic entities, settings,
which files belong, who a reference means, lineage. The only ruamel.yaml parser user."""
