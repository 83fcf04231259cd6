"""`kpictl.yaml`: the registry root and its settings.

Annotations are real objects, as in `models.py`, so pydantic need not evaluate strings.
"""

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kpictl.check.catalog import lookup
from kpictl.registry.membership import ROOT_FILE as ROOT_FILE  # where it is defined: files
from kpictl.registry.models import Line, Model, new_dict, new_list

RuleSetting = Literal["error", "warning", "info", "off"]


def _rule_setting(value: Any) -> Any:
    # `O004: false` reads as naturally as `O004: off`.
    if value is False:
        return "off"
    return value.lower() if isinstance(value, str) else value


class Smtp(Model):
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    timeout: Annotated[float, Field(gt=0, le=3600)] = 30

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise PydanticCustomError(
                "kpictl_secret",
                "the SMTP password is never stored in the registry: remove it and set "
                "the KPICTL_SMTP_PASSWORD environment variable instead",
            )
        return data


# `${NAME}` in a URL: replaced from the environment when kpictl connects.
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# The password of a URL like `scheme://user:password@host/...`.
_URL_PASSWORD = re.compile(r"^[^:/?#]+://[^/?#@:]*:([^/?#]*)@")


# The same password anywhere in a line of a file, for excerpts that quote the line.
_PASSWORD_IN_LINE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:\s\"']*:)([^/?#\s\"']*)(@)")
# A secret in a URL's query, which drivers accept too: a name ending in password, pwd,
# secret or token (`sslpassword`, `client_secret`, `private_key_file_pwd`), a key
# (`key`, `api_key`), or credentials. `sslkey=/path/key.pem` names a file: not a secret.
QUERY_SECRET = re.compile(
    r"([?&;](?:[\w.-]*(?:password|passwd|pwd|secret|token)|(?:api_|access_|private_)?key"
    r"|credentials?[\w.-]*)=)([^&#;\s\"']*)",
    re.IGNORECASE,
)


def hide_url_passwords(text: str) -> str:
    """`text` with the password of every `scheme://user:password@` URL shown as `***`.

    `kpictl check --show-source` quotes the offending line, and the line of the finding
    "the URL holds a password" is exactly the one holding it.
    """
    if "://" not in text:
        return text
    text = _PASSWORD_IN_LINE.sub(
        lambda m: m[0] if not ENV_REFERENCE.sub("", m[2]) else f"{m[1]}***{m[3]}", text
    )
    return QUERY_SECRET.sub(
        lambda m: m[0] if not ENV_REFERENCE.sub("", m[2]) else f"{m[1]}***", text
    )


def _no_literal_secret(value: str) -> str:
    """A URL may name a secret as `${NAME}`, never spell it out (the value is not echoed)."""
    match = _URL_PASSWORD.match(value)
    if match and ENV_REFERENCE.sub("", match[1]):
        raise PydanticCustomError(
            "kpictl_secret",
            "the URL holds a password: secrets never live in the registry; write "
            "{ref} in its place and set the environment variable NAME",
            {"ref": "${NAME}"},
        )
    for found in QUERY_SECRET.finditer(value):
        if ENV_REFERENCE.sub("", found[2]):
            raise PydanticCustomError(
                "kpictl_secret",
                "the URL holds a secret in its query ({name}...): secrets never live in the "
                "registry; write {ref} in its place and set the environment variable NAME",
                {"name": found[1][1:], "ref": "${NAME}"},
            )
    return value


def _embedded_without_query(value: str) -> str:
    """DuckDB applies a URL's query after kpictl's lock-down, and SQLite's (`uri=true`,
    `mode=rwc`) would open the file another way: kpictl sets both itself."""
    match = re.match(r"(duckdb|sqlite)(\+\w+)?:", value, re.IGNORECASE)
    if match and "?" in value:
        kind = "DuckDB" if match[1].lower() == "duckdb" else "SQLite"
        raise PydanticCustomError(
            "kpictl_duckdb_query",
            "{a_kind} URL takes no query parameters (?{query}=...): kpictl sets {kind}'s "
            "settings itself (read-only, files below the registry): remove them",
            {
                "a_kind": f"a {kind}" if kind == "DuckDB" else f"an {kind}",
                "kind": kind,
                "query": value.split("?", 1)[1].split("=", 1)[0][:30],
            },
        )
    return value


SecretFreeUrl = Annotated[Line, AfterValidator(_no_literal_secret)]

# The path of a DuckDB or SQLite URL as SQLAlchemy reads it, whatever the driver
# (`sqlite+pysqlite://`) and with an empty user (`sqlite://@/x.db` is `sqlite:///x.db`).
_FILE_PATH = re.compile(
    r"(?P<scheme>duckdb|sqlite)(?:\+\w+)?://(?:[^/?#]*@)?(?:/(?P<path>[^?#]*))?",
    re.IGNORECASE,
)


def _file_path(value: str) -> str | None:
    """The file a DuckDB or SQLite URL opens, percent-escapes decoded as SQLAlchemy
    decodes them (`%2e%2e` is `..`); None for any other URL."""
    from urllib.parse import unquote

    match = _FILE_PATH.match(value)
    if match is None:
        return None
    return unquote(match["path"] or "")


def _leaves(path: str) -> bool:
    """Whether a relative `path` climbs above the folder it is relative to."""
    if path in ("", ":memory:") or path.startswith("/"):
        return False
    depth = 0
    for part in path.split("/"):
        depth += -1 if part == ".." else (0 if part in ("", ".") else 1)
        if depth < 0:
            return True
    return False


def _connection_in_the_registry(value: str) -> str:
    """A database file named by a relative path stays below the registry.

    `sqlite:///../x.db` would read a database beside the checkout (`pull` refuses it
    too; this says so at the line). An absolute path is judged when `pull` opens it.
    """
    path = _file_path(value)
    if path is not None and _leaves(path):
        raise PydanticCustomError(
            "kpictl_connection_outside",
            "the database file's path leaves the registry: kpictl opens only a database "
            "file below the registry folder (e.g. duckdb:///warehouse.duckdb)",
        )
    return value


def _store_in_the_registry(value: str) -> str:
    """An SQLite store named by a relative path stays below the registry it is relative to.

    `sqlite:///../../elsewhere/x.db` in a pull request would have `pull` create folders
    and a database outside the checkout. An absolute path is the user's explicit choice
    (KPICTL_STORE is the usual place for one). The path is judged as SQLAlchemy opens
    it: every SQLite URL form, percent-escapes decoded. A `file:` URI is refused: SQLite
    would read its options and its own `..`. So is `${NAME}`: its value could be any
    path, and `store:` is read from a pull request.
    """
    path = _file_path(value)
    if path is None or not value.lower().startswith("sqlite"):
        return value
    if "${" in path:
        raise PydanticCustomError(
            "kpictl_store_variable",
            "an SQLite store's path names an environment variable: write the path itself "
            "(the default is sqlite:///.kpictl/store.db), or put such a store in "
            "KPICTL_STORE",
        )
    if path.startswith("file:"):
        raise PydanticCustomError(
            "kpictl_store_uri",
            "the store is a plain path (sqlite:///.kpictl/store.db), not an SQLite file: URI",
        )
    if _leaves(path):
        raise PydanticCustomError(
            "kpictl_store_outside",
            "the store's path leaves the registry: write a path inside it (the default is "
            "sqlite:///.kpictl/store.db), a server URL, or set KPICTL_STORE for a store "
            "elsewhere",
        )
    return value


# A connection's or chat channel's name: referenced from `actual`, `freshness` and
# `post_to`, and part of file names (`escalate --out` writes `KPI.CHANNEL.json`), so it
# may hold no slash, dot or control character.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}\Z")


def _check_name(value: str) -> str:
    if not NAME_PATTERN.match(value):
        from kpictl.templating.escaping import visible

        raise PydanticCustomError(
            "kpictl_name",
            "'{value}' is not a name: use letters, digits, '-' and '_', starting with a "
            "letter or digit, at most 63 characters (e.g. 'warehouse', 'revops-room')",
            {"value": visible(value[:60])},
        )
    return value


SettingName = Annotated[str, AfterValidator(_check_name)]


class Connection(Model):
    url: Annotated[
        SecretFreeUrl,
        AfterValidator(_embedded_without_query),
        AfterValidator(_connection_in_the_registry),
    ]


class ChatChannel(Model):
    kind: Literal["slack", "teams"]
    url: SecretFreeUrl


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _distinct_days(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise PydanticCustomError("kpictl_working_days", "names a day twice: list each day once")
    return value


def _web_url(value: str) -> str:
    """A link people click in a chat message: http(s) only, never `javascript:` or a file."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise PydanticCustomError("kpictl_url", "must be an http:// or https:// URL")
    return value


class Links(Model):
    """Pages chat messages link to."""

    map: Annotated[Line, AfterValidator(_web_url)] | None = None  # the published accountability map


class EmailSettings(Model):
    from_: Annotated[Line, Field(alias="from")]
    reply_to: Line | None = None
    smtp: Smtp | None = None


class Settings(Model):
    version: Literal[1]
    organization: Line | None = None
    timezone: str = "UTC"
    fiscal_year_start_month: Annotated[int, Field(ge=1, le=12)] = 1
    exclude: list[str] = Field(default_factory=new_list)
    rules: dict[str, Annotated[RuleSetting, BeforeValidator(_rule_setting)]] = Field(
        default_factory=new_dict
    )
    owner_kpi_limit: Annotated[int, Field(ge=1)] = 8
    email: EmailSettings | None = None
    templates: str | None = None
    connections: dict[SettingName, Connection] = Field(default_factory=new_dict)
    store: Annotated[SecretFreeUrl, AfterValidator(_store_in_the_registry)] | None = None
    chat: dict[SettingName, ChatChannel] = Field(default_factory=new_dict)
    working_days: (
        Annotated[list[Weekday], Field(min_length=1), AfterValidator(_distinct_days)] | None
    ) = None
    links: Links | None = None
    labels: dict[str, str] = Field(default_factory=new_dict)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from kpictl.registry.bounds import load_zone

        try:
            load_zone(value)
        except ValueError as exc:
            raise PydanticCustomError(
                "kpictl_timezone", "{message}", {"message": str(exc)}
            ) from None
        return value

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, value: dict[str, str]) -> dict[str, str]:
        resolved: dict[str, str] = {}
        for key, setting in value.items():
            rule = lookup(key)
            if rule is None:
                raise PydanticCustomError(
                    "kpictl_rule",
                    "'{key}' is not a rule code or name (e.g. O004 or owner-overload)",
                    {"key": key},
                )
            resolved[rule.code] = setting
        return resolved

    # Of a kpictl.yaml that failed to validate: the settings among `store` and
    # `connections` that failed too, so what they name is unknown.
    _unknown: frozenset[str] = PrivateAttr(default=frozenset())

    @classmethod
    def default(cls) -> "Settings":
        """The settings of a registry whose kpictl.yaml sets nothing."""
        return cls(version=1)

    @classmethod
    def stand_in(cls, data: object) -> "Settings":
        """Defaults to keep checking with when kpictl.yaml itself is broken.

        Its `store` and `connections` are kept where each validates on its own: the
        defaults would be another store (a team's escalations sent again from an empty
        one). One that does not validate is unknown (see `unknown`).
        """
        given = data if isinstance(data, dict) else {}
        kept: dict[str, object] = {}
        unknown = set()
        for key in ("store", "connections"):
            if key not in given:
                continue
            try:
                cls.model_validate({"version": 1, key: given[key]})
            except ValueError:  # pydantic's ValidationError
                unknown.add(key)
            else:
                kept[key] = given[key]
        settings = cls.model_validate({"version": 1, **kept})
        settings._unknown = frozenset(unknown)
        return settings

    def unknown(self, key: str) -> bool:
        """Whether kpictl.yaml sets `key` (store, connections) but it failed to validate:
        what it names must not be guessed."""
        return key in self._unknown


def find_root(start: Path) -> Path | None:
    """The registry folder for `start`: itself or the nearest parent with kpictl.yaml."""
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        marker = candidate / ROOT_FILE
        # Anything but a folder marks the registry, so that a kpictl.yaml that is a
        # link or a pipe is reported as such instead of making kpictl look further up.
        if marker.is_symlink() or (marker.exists() and not marker.is_dir()):
            return candidate
    return None
