#!/usr/bin/env python3
"""json_exact.py - exact comparison of two JSON documents, for the tests (stdlib only).

    python3 json_exact.py [--secrets-by-id] LEFT RIGHT

Each of LEFT and RIGHT is a JSON document, or an instance export as a JSONL stream (the
document without `secrets` on the first line, one secret object on each further line): a file
named *.jsonl, or any file holding more than one JSON value, is read that way and compared as
the document with those secrets as its `secrets` array. A directory is an instance export in
the directory layout (instance.json, secret_groups.json, optional configurations.json, one
secrets/<id>.json per secret, in file name order), compared as the one document it stands for:
the members of its files together (`total_count` left out: it is the listing's, not data).

What "equal" means here (a backup must give back values, not a reformatting of them):
- numbers keep their text: 12345678901234567890 != 12345678901234567000, 0.1 != 0.10,
  1e400 != 1E400 != 1e+400 (never rounded to a float or to infinity), -0 != 0, 1 != 1.0;
- strings are compared after decoding escapes, code point by code point: "\\u00e9" == "é",
  "\\/" == "/", but NFC "é" != NFD "e\\u0301" (no Unicode normalisation), "\\u0000" is data;
- objects are maps (member order does not matter); a duplicate member name (after decoding)
  is an error, not a difference;
- arrays are compared in order, except with --secrets-by-id: the top-level `secrets` array is
  then a map keyed by each secret's `id` (a secret without a string id, or two with one id,
  is an error);
- true, false and null are never equal to a number or a string.

Exit status: 0 equal; 1 different (the first difference is printed with its JSON path,
values cut short); 2 usage error or input that is not strict JSON (NaN, invalid UTF-8, ...).
"""

import json
import os
import sys

EXIT_EQUAL, EXIT_DIFFERENT, EXIT_ERROR = 0, 1, 2


class Number(str):
    """A JSON number, kept as its exact text (a str subclass, so never equal to a string)."""


class InputError(Exception):
    pass


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _object_without_duplicates(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate member {json.dumps(key)}")
        obj[key] = value
    return obj


_DECODER = json.JSONDecoder(
    parse_int=Number,
    parse_float=Number,
    parse_constant=_reject_constant,
    object_pairs_hook=_object_without_duplicates,
    strict=True,  # raw control characters in strings are refused
)
_WHITESPACE = " \t\n\r"


def _values(text, path):
    """Every top-level JSON value of TEXT, in order."""
    values = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        if pos == len(text):
            return values
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except ValueError as err:  # json.JSONDecodeError and the hooks' errors
            raise InputError(f"{path}: not strict JSON: {err}") from None
        values.append(value)


def _load_directory(path):
    """The document an instance export directory stands for."""
    document = {}
    for name, required in (("instance.json", True), ("secret_groups.json", True),
                           ("configurations.json", False)):
        file = os.path.join(path, name)
        if not required and not os.path.lexists(file):
            continue
        part = load(file)
        if not isinstance(part, dict):
            raise InputError(f"{file}: not a JSON object")
        for key, value in part.items():
            if key == "total_count":
                continue
            if key in document or key == "secrets":
                raise InputError(f"{file}: member {json.dumps(key)} given twice")
            document[key] = value
    secrets_dir = os.path.join(path, "secrets")
    try:
        names = sorted(os.listdir(secrets_dir))
    except OSError as err:
        raise InputError(f"{secrets_dir}: {err.strerror}") from None
    document["secrets"] = [load(os.path.join(secrets_dir, n)) for n in names if n.endswith(".json")]
    return document


def load(path):
    """The document in PATH; a JSONL stream becomes the document with its `secrets`, a
    directory the document of its files."""
    if os.path.isdir(path):
        return _load_directory(path)
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except OSError as err:
        raise InputError(f"{path}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 at byte {err.start}") from None
    if text.startswith("\ufeff"):
        raise InputError(f"{path}: starts with a byte order mark (not JSON)")
    values = _values(text, path)
    if not values:
        raise InputError(f"{path}: empty")
    if len(values) == 1 and not path.endswith(".jsonl"):
        return values[0]
    header, secrets = values[0], values[1:]
    if not isinstance(header, dict):
        raise InputError(f"{path}: the first line of a JSONL export is not an object")
    if "secrets" in header:
        raise InputError(f"{path}: the first line of a JSONL export holds `secrets`")
    document = dict(header)
    document["secrets"] = secrets
    return document


def _member_path(path, key):
    if key.isidentifier() and key.isascii():
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _text(value):
    """VALUE as JSON text, numbers as they were written, non-ASCII escaped (visible NFD)."""
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=True)


def _show(value, limit=80):
    text = _text(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value):
    if isinstance(value, Number):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array"
    return "object"


def _secrets_by_id(secrets, side):
    by_id = {}
    for i, secret in enumerate(secrets):
        sid = secret.get("id") if isinstance(secret, dict) else None
        if not isinstance(sid, str):
            raise InputError(f"{side}: $.secrets[{i}] has no string id")
        if sid in by_id:
            raise InputError(f"{side}: $.secrets holds id {json.dumps(sid)} twice")
        by_id[sid] = secret
    return by_id


def diff(a, b, path="$", secrets_by_id=False):
    """The first difference between A and B as a message, or None when they are equal."""
    kind_a, kind_b = _kind(a), _kind(b)
    if kind_a != kind_b:
        return f"{path}: {kind_a} {_show(a)} vs {kind_b} {_show(b)}"
    if kind_a == "object":
        return _diff_objects(a, b, path, secrets_by_id)
    if kind_a == "array":
        for i, (x, y) in enumerate(zip(a, b)):
            found = diff(x, y, f"{path}[{i}]")
            if found:
                return found
        if len(a) != len(b):
            return f"{path}: {len(a)} elements vs {len(b)}"
        return None
    if a != b:  # numbers by text, strings by code points, booleans, null
        return f"{path}: {_show(a)} vs {_show(b)}"
    return None


def _diff_objects(a, b, path, secrets_by_id):
    for key in a:
        if key not in b:
            return f"{_member_path(path, key)}: only in the left ({_show(a[key])})"
    for key in b:
        if key not in a:
            return f"{_member_path(path, key)}: only in the right ({_show(b[key])})"
    for key in a:
        sub = _member_path(path, key)
        x, y = a[key], b[key]
        if secrets_by_id and path == "$" and key == "secrets" and _kind(x) == _kind(y) == "array":
            found = _diff_secret_maps(x, y, sub)
        else:
            found = diff(x, y, sub)
        if found:
            return found
    return None


def _diff_secret_maps(left, right, path):
    a, b = _secrets_by_id(left, "left"), _secrets_by_id(right, "right")
    for sid in a:
        if sid not in b:
            return f"{path}[id={sid}]: only in the left"
    for sid in b:
        if sid not in a:
            return f"{path}[id={sid}]: only in the right"
    for sid in a:
        found = diff(a[sid], b[sid], f"{path}[id={sid}]")
        if found:
            return found
    return None


def main(argv):
    args = argv[1:]
    secrets_by_id = "--secrets-by-id" in args
    args = [arg for arg in args if arg != "--secrets-by-id"]
    if len(args) != 2 or any(arg.startswith("--") for arg in args):
        print("usage: json_exact.py [--secrets-by-id] LEFT RIGHT", file=sys.stderr)
        return EXIT_ERROR
    try:
        left, right = load(args[0]), load(args[1])
        found = diff(left, right, secrets_by_id=secrets_by_id)
    except InputError as err:
        print(f"json_exact: {err}", file=sys.stderr)
        return EXIT_ERROR
    except RecursionError:
        print("json_exact: nested too deeply", file=sys.stderr)
        return EXIT_ERROR
    if found:
        print(f"json_exact: {args[0]} and {args[1]} differ at {found}", file=sys.stderr)
        return EXIT_DIFFERENT
    return EXIT_EQUAL


if __name__ == "__main__":
    sys.exit(main(sys.argv))
