"""Database URLs: `${NAME}` from the environment, paths from the registry, secrets hidden."""

from pathlib import Path

import pytest

from kpictl.numbers.connections import (
    ConnectError,
    connection_url,
    expand,
    redact,
    store_url,
)
from kpictl.registry.config import Settings

ROOT = Path("/srv/registry")


@pytest.mark.parametrize(
    ("template", "environ", "url", "secrets"),
    [
        ("duckdb:///:memory:", {}, "duckdb:///:memory:", ()),
        ("duckdb:///warehouse.duckdb", {}, "duckdb:////srv/registry/warehouse.duckdb", ()),
        ("duckdb:////data/w.duckdb", {}, "duckdb:////data/w.duckdb", ()),
        ("sqlite:///.kpictl/store.db", {}, "sqlite:////srv/registry/.kpictl/store.db", ()),
        (
            "sqlite+pysqlite:///s.db?timeout=5",
            {},
            "sqlite+pysqlite:////srv/registry/s.db?timeout=5",
            (),
        ),
        ("sqlite://", {}, "sqlite://", ()),
        (
            "postgresql+psycopg://kpictl:${PW}@db.example/crm",
            {"PW": "p@ss/w:rd"},
            "postgresql+psycopg://kpictl:p%40ss%2Fw%3Ard@db.example/crm",
            ("p@ss/w:rd",),
        ),
        (
            "postgresql://${USER_NAME}:${PW}@${HOST}/kpi",
            {"USER_NAME": "k", "PW": "s", "HOST": "db.example"},
            "postgresql://k:s@db.example/kpi",
            ("k", "s", "db.example"),
        ),
        (
            "duckdb:///${FOLDER}/w.duckdb",
            {"FOLDER": "data/x"},
            "duckdb:////srv/registry/data/x/w.duckdb",
            ("data/x",),
        ),
    ],
)
def test_expand(template: str, environ: dict[str, str], url: str, secrets: tuple[str, ...]) -> None:
    expanded = expand("warehouse", template, ROOT, environ)
    assert (expanded.url, expanded.secrets) == (url, secrets)


def test_an_unset_variable_is_named() -> None:
    with pytest.raises(ConnectError) as caught:
        expand("crm", "postgresql://k:${CRM_PASSWORD}@h/db", ROOT, {})
    assert str(caught.value) == (
        "connection 'crm' needs the environment variable CRM_PASSWORD, which is not set: set it "
        "(a CI secret, or `export CRM_PASSWORD=...` in your shell)"
    )


def test_a_repr_never_shows_the_password() -> None:
    expanded = expand("crm", "postgresql://k:${PW}@h/db", ROOT, {"PW": "hunter2"})
    assert "hunter2" not in repr(expanded)
    assert repr(expanded) == "DatabaseUrl(name='crm', url='postgresql://k:***@h/db')"


@pytest.mark.parametrize(
    ("text", "secrets", "shown"),
    [
        (
            'password authentication failed for user "k" (hunter2)',
            ("hunter2",),
            'password authentication failed for user "k" (***)',
        ),
        (
            "connect to postgresql://k:anything@h/db failed",
            (),
            "connect to postgresql://k:***@h/db failed",
        ),
        ("url postgresql://k:p%40ss@h/db", ("p@ss",), "url postgresql://k:***@h/db"),
        ("nothing secret here", ("",), "nothing secret here"),
    ],
)
def test_redact(text: str, secrets: tuple[str, ...], shown: str) -> None:
    assert redact(text, secrets) == shown


def test_store_url_order(tmp_path: Path) -> None:
    settings = Settings(version=1)
    assert store_url(settings, tmp_path, {}).url == f"sqlite:///{tmp_path}/.kpictl/store.db"
    own = Settings(version=1, store="postgresql://kpictl:${STORE_PW}@db/kpi")
    shared = store_url(own, tmp_path, {"STORE_PW": "s3cret"})
    assert (shared.url, shared.secrets) == ("postgresql://kpictl:s3cret@db/kpi", ("s3cret",))
    from_environment = store_url(own, tmp_path, {"KPICTL_STORE": "postgresql://a:b@c/d"})
    assert (from_environment.url, from_environment.secrets) == ("postgresql://a:b@c/d", ("b",))


def test_unknown_connection_name() -> None:
    with pytest.raises(
        ConnectError, match=r"^there is no connection 'crm' in kpictl.yaml \(none are defined\)$"
    ):
        connection_url(Settings(version=1), "crm", ROOT, {})
