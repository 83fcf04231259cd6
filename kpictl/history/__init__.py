"""The registry through git: revisions, diff, changelog, CODEOWNERS, --changed-since."""
