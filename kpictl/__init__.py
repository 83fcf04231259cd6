"""kpictl: one git-versioned source of truth for marketing KPIs and who answers for them."""

__version__ = "0.1.0"
# kpictl is not on PyPI: `kpictl init` installs it from here, at the tag v<version>
# (pyproject.toml's [project.urls] Repository says the same; a test keeps them equal).
REPOSITORY = "https://github.com/kpictl/kpictl"
