"""The registry through git: `git` runs it, `revisions` loads the registry at a commit,
`diff` (with `compare` and `diff_output`), `changelog`, `codeowners` and `changed`
(`check --changed-since`)."""
