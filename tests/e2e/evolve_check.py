#!/usr/bin/env python3
"""Helpers of t_evolve.sh (python3 standard library only).

  evolve_check.py payloads OUTDIR ID... -- EXPORT...
      For each EXPORT (named sNN.json) and each ID it holds, writes OUTDIR/NN-ID: what
      `smar cat --id ID` must print for the secret as that export holds it: an arbitrary
      secret's payload string, decoded; for the other sampled types (username_password, kv)
      the JSON object of the payload fields. No file when the export does not hold ID.
  evolve_check.py same-payload EXPECTED GOT
      Exit 0 when smar's output GOT equals EXPECTED: byte for byte for a string payload,
      as the same JSON value (numbers compared as written) for an object.
  evolve_check.py pick KIND MANIFEST...
      Prints the id of one secret of a sampled type (arbitrary, username_password, kv) that
      a KIND line (created, deleted, rotated, moved) of the MANIFESTs names, the first one
      in the order given; KIND untouched: a secret of the first MANIFEST, in every one, and
      named by no change line of any. Exit 1 when there is none.
  evolve_check.py diff MANIFEST DIFF_JSON [MANIFEST DIFF_JSON]...
      The created/deleted/rotated/moved lines of each generator manifest against the
      changes of `smar diff --json`, as sets of (change, id) (moved: also the old group).
      Prints the differences; exit 0 when all are equal.
"""
import json
import os
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


def payload_bytes(s):
    t = s["secret_type"]
    if t == "arbitrary":
        return s["payload"].encode("utf-8")
    if t in PAYLOAD_FIELDS:
        fields = {k: s[k] for k in PAYLOAD_FIELDS[t] if k in s}
        return json.dumps(fields, separators=(",", ":")).encode("utf-8")
    raise SystemExit("secret %s: type %s is not sampled by this test" % (s["id"], t))


def cmd_payloads(outdir, ids, exports):
    for export in exports:
        nn = os.path.basename(export)[1:3]
        secrets = export_secrets(export)
        for sid in ids:
            if sid in secrets:
                with open(os.path.join(outdir, "%s-%s" % (nn, sid)), "wb") as f:
                    f.write(payload_bytes(secrets[sid]))
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


def cmd_diff(pairs):
    rc = 0
    for manifest, diff_json in pairs:
        want = manifest_changes(manifest)
        have = diff_changes(diff_json)
        for c in sorted(want - have):
            print("%s: missing from smar diff: %s %s %s" % ((manifest,) + c))
        for c in sorted(have - want):
            print("%s: not in the manifest:    %s %s %s" % ((manifest,) + c))
        if want != have:
            rc = 1
    return rc


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
    if len(argv) >= 5 and argv[1] == "payloads" and "--" in argv:
        sep = argv.index("--")
        return cmd_payloads(argv[2], argv[3:sep], argv[sep + 1:])
    if len(argv) == 4 and argv[1] == "same-payload":
        return cmd_same_payload(argv[2], argv[3])
    if len(argv) >= 4 and len(argv) % 2 == 0 and argv[1] == "diff":
        return cmd_diff(list(zip(argv[2::2], argv[3::2])))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
