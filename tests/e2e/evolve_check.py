#!/usr/bin/env python3
"""Helpers of t_evolve.sh (python3 standard library only).

  evolve_check.py payload EXPORT ID OUT
      Writes to OUT what `smar cat --id ID` must print for the secret ID as the export
      EXPORT holds it: an arbitrary secret's payload string, decoded; for the other types
      (username_password, kv: the only ones the test samples) the JSON object of the payload
      fields. Exit 0; 4 when the export does not hold ID.
  evolve_check.py same-payload EXPECTED GOT
      Exit 0 when smar's output GOT equals EXPECTED: byte for byte for a string payload,
      as the same JSON value (numbers compared as written) for an object.
  evolve_check.py pick KIND MANIFEST...
      Prints the id of one secret of a sampled type (arbitrary, username_password, kv) that
      a KIND line (created, deleted, rotated, moved) of the MANIFESTs names, the first one
      in the order given; KIND untouched: a secret of the first MANIFEST, in every one, and
      named by no change line of any. Exit 1 when there is none.
  evolve_check.py diff MANIFEST DIFF_JSON
      The created/deleted/rotated/moved lines of the generator's manifest against the
      changes of `smar diff --json`, as sets of (change, id) (moved: also the old group).
      Prints the differences; exit 0 when equal.
"""
import json
import sys

# Payload fields of the types the test samples (smar(1), cat: "the JSON object of its
# payload fields exactly as exported").
PAYLOAD_FIELDS = {
    "username_password": ("username", "password"),
    "kv": ("data",),
}


def exact_load(text):
    """A JSON value with numbers kept as written and member order kept."""
    return json.loads(text, parse_float=lambda s: ("float", s), parse_int=lambda s: ("int", s),
                      parse_constant=lambda s: ("const", s), object_pairs_hook=list)


def export_secrets(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    return {s["id"]: s for s in doc["secrets"]}


def cmd_payload(export, sid, out):
    secrets = export_secrets(export)
    if sid not in secrets:
        return 4
    s = secrets[sid]
    t = s["secret_type"]
    with open(out, "wb") as f:
        if t == "arbitrary":
            f.write(s["payload"].encode("utf-8"))
        elif t in PAYLOAD_FIELDS:
            f.write(json.dumps({k: s[k] for k in PAYLOAD_FIELDS[t] if k in s}).encode("utf-8"))
        else:
            sys.stderr.write("secret %s: type %s is not sampled by this test\n" % (sid, t))
            return 1
    return 0


def cmd_same_payload(expected, got):
    with open(expected, "rb") as f:
        want = f.read()
    with open(got, "rb") as f:
        have = f.read()
    if want == have:
        return 0
    try:
        if want.startswith(b"{") and exact_load(want.decode()) == exact_load(have.decode()):
            return 0
    except ValueError:
        pass
    sys.stderr.write("payload differs: expected %d bytes, got %d\n" % (len(want), len(have)))
    return 1


def manifest_changes(path):
    changes = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if w[0] in ("created", "deleted", "rotated"):
                changes.add((w[0], w[2], ""))
            elif w[0] == "moved":
                changes.add(("moved", w[2], w[3]))
    return changes


def diff_changes(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    changes = set()
    for c in doc["changes"]:
        kind = c["change"]
        if kind == "metadata":
            continue  # the generator's change log does not list metadata changes
        old_group = c.get("old_group_id", "") if kind == "moved" else ""
        changes.add((kind, c["id"], old_group or ""))
    return changes


def cmd_diff(manifest, diff_json):
    want = manifest_changes(manifest)
    have = diff_changes(diff_json)
    for c in sorted(want - have):
        print("missing from smar diff: %s %s %s" % c)
    for c in sorted(have - want):
        print("not in the manifest:    %s %s %s" % c)
    return 0 if want == have else 1


def cmd_pick(kind, manifests):
    types, present, changed, named = {}, [], set(), []
    for path in manifests:
        ids = set()
        with open(path, encoding="utf-8") as f:
            for line in f:
                w = line.split()
                if len(w) >= 4 and w[0] == "secret":
                    types[w[2]] = w[3]
                    ids.add(w[2])
                elif w and w[0] in ("created", "deleted", "rotated", "moved"):
                    changed.add(w[2])
                    if w[0] == kind:
                        named.append(w[2])
        present.append(ids)
    sampled = ("arbitrary",) + tuple(PAYLOAD_FIELDS)
    if kind == "untouched":
        named = sorted(i for i in set.intersection(*present) if i not in changed)
    for sid in named:
        if types.get(sid) in sampled:
            print(sid)
            return 0
    return 1


def main(argv):
    if len(argv) >= 4 and argv[1] == "pick":
        return cmd_pick(argv[2], argv[3:])
    if len(argv) == 5 and argv[1] == "payload":
        return cmd_payload(argv[2], argv[3], argv[4])
    if len(argv) == 4 and argv[1] == "same-payload":
        return cmd_same_payload(argv[2], argv[3])
    if len(argv) == 4 and argv[1] == "diff":
        return cmd_diff(argv[2], argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
