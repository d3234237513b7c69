#!/usr/bin/env python3
"""Make the NEW snapshot of t_diff.sh from an OLD export: one change of each kind, with
values the test then looks for in smar diff's output (it must find none of them).

usage: diff_edit.py OLD.json NEW.json VALUES.txt
VALUES.txt gets every payload string and every changed metadata value, one a line."""
import copy
import json
import sys

PAYLOAD_FIELDS = {"payload", "username", "password", "data", "api_key", "credentials",
                  "credentials_content", "certificate", "intermediate", "private_key", "csr",
                  "issuing_ca", "ca_chain"}


def leaves(value, out):
    """Every string (and the JSON text of every object) inside a value."""
    if isinstance(value, str):
        out.add(value)
        try:  # payloads that hold JSON text: their strings too
            leaves(json.loads(value), out)
        except (ValueError, RecursionError):
            pass
    elif isinstance(value, dict):
        out.add(json.dumps(value, ensure_ascii=False))
        for v in value.values():
            leaves(v, out)
    elif isinstance(value, list):
        for v in value:
            leaves(v, out)


def payload_values(doc, out):
    for s in doc["secrets"]:
        for obj in [s] + s.get("versions", []):
            for k, v in obj.items():
                if k in PAYLOAD_FIELDS:
                    leaves(v, out)


def by_name(doc, name):
    return next(s for s in doc["secrets"] if s["name"] == name)


def main():
    old = json.load(open(sys.argv[1], encoding="utf-8"))
    new = copy.deepcopy(old)
    new["exported_at"] = "2026-11-21T02:00:00Z"
    values = set()
    payload_values(old, values)

    # rotated: a new version of an arbitrary secret
    rot = by_name(new, "webhook-secret-9")
    v = copy.deepcopy(rot["versions"][-1])
    for prev in rot["versions"]:
        prev.pop("alias", None)
    v.update(id="aaaaaaaa-0000-4000-8000-000000000001", created_at="2026-11-20T12:00:00Z",
             payload="ROTATED-PAYLOAD-7c41e0", alias="current")
    rot["versions"].append(v)
    rot["payload"] = v["payload"]
    rot["versions_total"] = len(rot["versions"])
    rot["updated_at"] = "2026-11-20T12:00:00Z"

    # created: a copy of a kv secret under new ids
    src = by_name(new, "密码")
    made = copy.deepcopy(src)
    made.update(id="bbbbbbbb-0000-4000-8000-000000000002", name="made-after-old",
                created_at="2026-11-20T13:00:00Z")
    made.pop("crn", None)
    for i, ver in enumerate(made.get("versions", [])):
        ver["id"] = "bbbbbbbb-0000-4000-8000-0000000001%02d" % i
        ver["secret_id"] = made["id"]
        ver["secret_name"] = made["name"]
        ver["data"] = {"CREATED-KEY-93d1": "CREATED-VALUE-5ab2%d" % i}
    made["data"] = made["versions"][-1]["data"] if made.get("versions") else {}
    new["secrets"].append(made)

    # deleted
    new["secrets"].remove(by_name(new, "jira-bot-5"))

    # moved to another group
    by_name(new, "cert-status-7")["secret_group_id"] = "default"

    # metadata: description, a label and a custom_metadata member (values never shown)
    meta = by_name(new, "app-config")
    if meta["secret_type"] != "arbitrary":
        raise SystemExit("fixture: app-config is expected to be the arbitrary secret")
    values.update([meta["description"], meta["custom_metadata"]["owner"]])
    meta["description"] = "DESCRIPTION-CHANGED-41f9"
    meta["labels"] = meta["labels"] + ["LABEL-ADDED-0e77"]
    meta["custom_metadata"]["owner"] = "OWNER-CHANGED-c2d8"
    values.update(["DESCRIPTION-CHANGED-41f9", "LABEL-ADDED-0e77", "OWNER-CHANGED-c2d8"])

    # every secret read again by the new export: its retrieved_at moves, which diff must not
    # report (it would list every secret of the instance as changed)
    for n, s in enumerate(new["secrets"]):
        s["retrieved_at"] = "2026-11-21T01:%02d:%02d.125Z" % (n // 60 % 60, n % 60)

    payload_values(new, values)
    json.dump(new, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    with open(sys.argv[3], "w", encoding="utf-8") as f:
        for value in sorted(values):
            # short values ("app", "true") also occur in names and words: only distinctive ones
            if len(value) >= 8 and "\n" not in value:
                f.write(value + "\n")


main()
