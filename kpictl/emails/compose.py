"""RFC 5322 messages: multipart text + HTML, with headers built only from clean values.

Every display name and subject passes through `header_text` (no CR, LF or other
control characters, and no RFC 2047 encoded word can reach a header). Addresses are
`email.headerregistry.Address` objects, but address headers are folded here
(`fold_addresses`): the email package's own folder loses the quotes of a long name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid, parseaddr
from functools import lru_cache
from typing import Any

from kpictl.compat import message_bytes
from kpictl.display import clean
from kpictl.registry.config import Settings

DEFAULT_FROM = "kpictl <kpictl@localhost>"


class _Policy(EmailPolicy):
    """email.policy.SMTP (CRLF line ends, as on the wire) that folds each header once.

    Folding a header walks its parse tree; From, the MIME headers and repeated
    recipient lists are the same in thousands of messages, so their folds are kept.
    """

    def fold_binary(self, name: str, value: Any) -> bytes:
        key = (name, str(value), self.linesep)
        folded = _FOLDS.get(key)
        if folded is None:
            if len(_FOLDS) > 16384:
                _FOLDS.clear()
            addresses = _mailboxes(name, value)
            if addresses is None:
                folded = super().fold_binary(name, value)
            else:
                folded = fold_addresses(name, addresses, self.linesep).encode("utf-8")
            _FOLDS[key] = folded
        return folded

    def fold(self, name: str, value: Any) -> str:
        addresses = _mailboxes(name, value)
        if addresses is None:
            return str(super().fold(name, value))
        return fold_addresses(name, addresses, self.linesep)


_FOLDS: dict[tuple[str, str, str], bytes] = {}

# Address headers are folded by kpictl, not by the email package: Python 3.11's folder
# splits a long quoted display name into its words and drops the quotes, so
# `"Ann, Head of ... <x@evil.example>, y" <ann@acme.example>` came out as three
# recipients, and a name with `:` as group syntax.
_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to"})
_MAX_LINE = 78  # RFC 5322 2.1.1: lines should stay within 78 characters
# RFC 5322 atext: a word of these needs neither quotes nor encoding.
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+\Z")
# RFC 2047 5.(3): the only characters that stand for themselves in an encoded word
# inside a phrase.
_Q_LITERAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_EW_START, _EW_B_START, _EW_END = "=?utf-8?q?", "=?utf-8?b?", "?="
_EW_LIMIT = 75  # RFC 2047 2: the longest an encoded word may be
# RFC 2047 allows 75 characters; 68 keeps even `Reply-To: ` and one encoded word within
# the 78 characters of a line.
_EW_MAX = 68
# An ASCII word longer than this goes out as encoded words, so no header line can reach
# RFC 5322's hard limit of 998 characters (a quoted word may double in escaping).
_LONGEST_WHOLE_WORD = 400


def _mailboxes(name: str, value: Any) -> tuple[Address, ...] | None:
    """The addresses of a header kpictl folds itself, or None for any other header."""
    if name.lower() not in _ADDRESS_HEADERS or not hasattr(value, "groups"):
        return None
    if any(group.display_name is not None for group in value.groups):
        return None  # group syntax: kpictl never writes it
    return tuple(value.addresses)


def fold_addresses(name: str, addresses: tuple[Address, ...], linesep: str) -> str:
    """An address header, folded only where folding keeps every name whole.

    Lines break only at a space between words, inside a quoted name or between encoded
    words (never inside either), so unfolding gives back exactly the names written.
    """
    label = f"{name}:"
    lines = [label]
    for i, item in enumerate(addresses):
        tokens = [*_phrase(item.display_name), f"<{item.addr_spec}>"]
        if not item.display_name:
            tokens = [item.addr_spec]
        if i < len(addresses) - 1:
            tokens[-1] += ","
        for token in tokens:
            if len(lines[-1]) + 1 + len(token) > _MAX_LINE and (
                lines[-1] != label or 1 + len(token) <= _MAX_LINE
            ):
                lines.append(" " + token)
            else:
                lines[-1] += " " + token
    return linesep.join(lines) + linesep


def _phrase(display_name: str) -> list[str]:
    """A display name as the words of an RFC 5322 phrase, each safe to fold after.

    Atoms when every word is one; else a quoted string when the name is ASCII; else
    RFC 2047 encoded words, so no character of the name is ever read as syntax.
    """
    words = display_name.split(" ")
    whole = all(len(word) <= _LONGEST_WHOLE_WORD for word in words)
    if display_name.isascii() and _ENCODED_WORD not in display_name and whole:
        if all(_ATOM.match(word) for word in words):
            return words
        quoted = [word.replace("\\", "\\\\").replace('"', '\\"') for word in words]
        quoted[0] = '"' + quoted[0]
        quoted[-1] += '"'
        return quoted
    return _encoded_words(words)


def _encoded_words(words: list[str]) -> list[str]:
    """Words as Q-encoded words, several to one while it stays within _EW_MAX characters.

    Encoded words break where the name has a space, and that space becomes the fold
    (Python 3.11 keeps the white space between two encoded words of a phrase). A word
    too long for a Q-encoded word goes whole as one base64 word if that fits in 75
    characters; else it is split between characters into adjacent encoded words, which
    RFC 2047 6.2 readers join without a space (Python 3.11's parser shows one there).
    A person's name never has such a word: the registry refuses it (S001).
    """
    room = _EW_MAX - len(_EW_START) - len(_EW_END)
    out: list[str] = []
    current = ""
    for word in words:
        pieces = _q_pieces(word, room)
        whole = _EW_B_START + base64.b64encode(word.encode()).decode() + _EW_END
        if len(pieces) > 1 and len(whole) <= _EW_LIMIT:
            # Base64 is denser: the word fits one encoded word and stays whole.
            if current:
                out.append(_EW_START + current + _EW_END)
            out.append(whole)
            current = ""
            continue
        if current and len(current) + 1 + len(pieces[0]) <= room:
            current += "_" + pieces.pop(0)
        for piece in pieces:
            if current:
                out.append(_EW_START + current + _EW_END)
            current = piece
    if current or not out:
        out.append(_EW_START + current + _EW_END)
    return out


def _q_pieces(word: str, room: int) -> list[str]:
    """A word Q-encoded, cut between characters into pieces of at most `room` chars."""
    pieces = [""]
    for char in word:
        encoded = "".join(
            chr(byte) if byte in _Q_LITERAL else f"={byte:02X}" for byte in char.encode()
        )
        if pieces[-1] and len(pieces[-1]) + len(encoded) > room:
            pieces.append("")
        pieces[-1] += encoded
    return pieces


class _Headers(HeaderRegistry):
    """The standard header classes, each specialised once.

    HeaderRegistry builds a new class with type() on every lookup, and the email package
    looks one up for every header set (header_max_count) and every header parsed; the
    classes are stateless, so one per header name gives the same headers.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


# One fixed boundary, not a random one, so the same run gives the same bytes. It can
# never occur inside a part: both parts are quoted-printable, where "=" is always "=3D".
BOUNDARY = "=_kpictl_alternative"
POLICY = _Policy(linesep="\r\n", header_factory=_Headers())


class AddressError(ValueError):
    """An address kpictl cannot put in a header."""


# The opener of an RFC 2047 encoded word. The email package decodes encoded words found
# in a header value it is given; older releases (3.11.7, for one) then write the decoded
# text back out unencoded, so `=?utf-8?q?=0D=0ABcc:...?=` in a name became a real CR LF
# and a forged header, and patched ones refuse to write the header at all. A zero-width
# space after the "=" leaves the text readable as typed, and makes every version encode
# the word as UTF-8, which mail clients decode back to the literal text.
_ENCODED_WORD = "=?"
_INERT_OPENER = "=\u200b?"


def header_text(text: str) -> str:
    """Registry text fit for a header value: one line, no control characters, and no
    encoded word that the email package would decode into something else."""
    return clean(text).replace(_ENCODED_WORD, _INERT_OPENER)


@lru_cache(maxsize=4096)
def address(name: str, addr: str) -> Address:
    """An Address from a (possibly hostile) display name and an address."""
    addr = clean(addr)
    try:
        return Address(display_name=header_text(name), addr_spec=addr)
    except (ValueError, IndexError) as exc:
        raise AddressError(f"'{addr}' is not an address an email can be sent to: {exc}") from None


_NAME_ADDR = re.compile(r"(?P<name>.*?)\s*<(?P<addr>[^<>]+)>\Z")


def parse_address(text: str, what: str) -> Address:
    """`Name <addr>` or a bare address from kpictl.yaml; the part in <> is the address."""
    text = clean(text)
    match = _NAME_ADDR.match(text)
    if match:
        name, addr = match["name"].strip().strip('"'), match["addr"].strip()
    else:
        name, addr = parseaddr(text)
    if "@" not in addr:
        raise AddressError(
            f"{what} '{clean(text)}' is not an email address: write it as "
            "'Name <name@example.com>' or 'name@example.com'"
        )
    return address(name, addr)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who the emails come from, from the `email:` block of kpictl.yaml."""

    address: Address
    reply_to: Address | None = None

    @property
    def domain(self) -> str:
        return self.address.domain or "localhost"

    @classmethod
    def from_settings(cls, settings: Settings) -> Sender:
        """Raises AddressError for a `from` or `reply_to` that is not an address."""
        block = settings.email
        sender = parse_address(block.from_ if block else DEFAULT_FROM, "email.from")
        reply_to = None
        if block is not None and block.reply_to:
            reply_to = parse_address(block.reply_to, "email.reply_to")
        return cls(sender, reply_to)


def message_id(kind: str, key: str, moment: datetime, domain: str, stable: bool) -> str:
    """A Message-ID; `stable` (an --as-of run) gives the same one on every run."""
    if not stable:
        return make_msgid(idstring=f"kpictl.{kind}", domain=domain)
    # Short enough never to be folded: the same email at the same moment, the same id.
    stamp = moment.strftime("%Y%m%dT%H%M%z")
    digest = hashlib.sha256(f"{kind}/{key}/{stamp}".encode()).hexdigest()[:24]
    return f"<kpictl.{moment:%Y%m%d}.{digest}@{domain}>"


_HEADERS: dict[tuple[str, object], Any] = {}


def _header(name: str, value: str | Address | tuple[Address, ...]) -> Any:
    """A parsed header object, reused: parsing headers dominates composing time."""
    if isinstance(value, str):
        key: tuple[str, object] = (name, value)
    else:
        addresses = value if isinstance(value, tuple) else (value,)
        key = (name, tuple((a.display_name, a.addr_spec) for a in addresses))
    header = _HEADERS.get(key)
    if header is None:
        if len(_HEADERS) > 8192:
            _HEADERS.clear()
        header = _HEADERS[key] = POLICY.header_factory(name, value)
    return header


def compose(
    *,
    sender: Address,
    to: tuple[Address, ...],
    cc: tuple[Address, ...] = (),
    reply_to: Address | None = None,
    subject: str,
    text: str,
    html: str,
    date: datetime,
    msgid: str,
    automatic: bool = True,
    thread: str | None = None,
) -> EmailMessage:
    """One multipart/alternative message (text first, HTML preferred by mail clients)."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _header("From", sender)
    msg["To"] = _header("To", to)
    if cc:
        msg["Cc"] = _header("Cc", cc)
    if reply_to is not None:
        msg["Reply-To"] = _header("Reply-To", reply_to)
    msg["Subject"] = header_text(subject)
    msg["Date"] = _header("Date", format_datetime(date))
    msg["Message-ID"] = msgid
    if thread is not None:
        # RFC 5322 3.6.4: a reply names its parent; every step of an escalation replies to
        # the first, so mail clients show one conversation. kpictl made the id itself.
        msg["In-Reply-To"] = thread
        msg["References"] = thread
    if automatic:
        # RFC 3834: out-of-office replies should not answer a generated message.
        msg["Auto-Submitted"] = _header("Auto-Submitted", "auto-generated")
    msg["MIME-Version"] = _header("MIME-Version", "1.0")
    msg["Content-Type"] = _header("Content-Type", f'multipart/alternative; boundary="{BOUNDARY}"')
    msg.set_payload([_text_part(text, "plain"), _text_part(html, "html")])
    return msg


def _text_part(text: str, subtype: str) -> EmailMessage:
    """A UTF-8, quoted-printable text part.

    Built by hand rather than with set_content: binascii's C encoder and reused header
    objects make this several times faster, which matters for thousands of escalations.
    """
    part = EmailMessage(policy=POLICY)
    part["Content-Type"] = _header("Content-Type", f'text/{subtype}; charset="utf-8"')
    part["Content-Transfer-Encoding"] = _header("Content-Transfer-Encoding", "quoted-printable")
    if not text.endswith("\n"):
        text += "\n"
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True)
    part.set_payload(encoded.decode("ascii"))
    return part


def to_bytes(msg: EmailMessage) -> bytes:
    """The message as sent and written: what msg.as_bytes(policy=POLICY) gives."""
    return message_bytes(msg, POLICY)
