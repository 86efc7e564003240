"""Reading nats-server's configuration language, the part the manifests use: maps (`{}`), arrays
(`[]`), `key: value` / `key = value` / `key value`, quoted and bare strings, `#` and `//`
comments. A `$NAME` value (a variable, which nats-server resolves from the file or the
environment) is kept as the string "$NAME". Enough to inspect users and permissions; whether the
file is valid is nats-server's own verdict (`nats-server -t`, see checks.check_nats_users).
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""(?P<space>[ \t\r\n,;]+)
      | (?P<comment>(\#|//)[^\n]*)
      | (?P<open>[{\[]) | (?P<close>[}\]])
      | "(?P<dq>(\\.|[^"\\])*)" | '(?P<sq>[^']*)'
      | (?P<sep>[:=])
      | (?P<word>[^\s,;{}\[\]"'=]+)""",
    re.X,
)


class ConfError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ConfError(f"cannot read nats.conf at {text[position:position + 20]!r}")
        position = match.end()
        kind = match.lastgroup
        if kind in ("space", "comment"):
            continue
        if kind == "dq":
            out.append(("str", bytes(match.group("dq"), "utf-8").decode("unicode_escape")))
        elif kind == "sq":
            out.append(("str", match.group("sq")))
        else:
            out.append((kind, match.group(kind)))
    return out


def parse(text: str) -> dict:
    """The file as nested dicts, lists and strings."""
    tokens = _tokens(text)
    position = 0

    def value():
        nonlocal position
        if position >= len(tokens):
            raise ConfError("nats.conf ends where a value is expected")
        kind, text = tokens[position]
        position += 1
        if kind == "open" and text == "{":
            return mapping("}")
        if kind == "open":
            items = []
            while position < len(tokens) and tokens[position] != ("close", "]"):
                items.append(value())
            position += 1
            return items
        if kind in ("str", "word"):
            return text
        raise ConfError(f"unexpected {text!r} in nats.conf")

    def mapping(end: str | None) -> dict:
        nonlocal position
        out = {}
        while position < len(tokens) and (end is None or tokens[position] != ("close", end)):
            kind, key = tokens[position]
            position += 1
            if kind not in ("str", "word"):
                raise ConfError(f"expected a key in nats.conf, got {key!r}")
            if kind == "word" and ":" in key:  # `port:4222`, or `port:` before its value
                key, rest = key.split(":", 1)
                if rest:
                    out[key] = rest
                    continue
            if position < len(tokens) and tokens[position][0] == "sep":
                position += 1
            out[key] = value()
        position += 1
        return out

    return mapping(None)
