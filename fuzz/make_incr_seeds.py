#!/usr/bin/env python3
"""make_incr_seeds.py - seeds of the format 2.1 harnesses (fuzz_ref_record, fuzz_header)
written from the layouts of spec/FORMAT.md section 26 and the committed vectors
spec/vectors/v2/incr-*: type 3 records with their patches, type 1 records with external
(present = 2) locators, incremental headers.

    python3 fuzz/make_incr_seeds.py fuzz/corpus     (then commit what changed)
"""
import os
import re
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus"
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def put(corpus, name, data):
    os.makedirs(os.path.join(out, corpus), exist_ok=True)
    with open(os.path.join(out, corpus, name), "wb") as f:
        f.write(data)
    print(f"{corpus:16} {name:28} {len(data):7} bytes")


def str16(s):
    return struct.pack("<H", len(s)) + s


def blob32(s):
    return struct.pack("<I", len(s)) + s


def ref(base, seq, off, length, patches):
    b = struct.pack("<BBBIIIH", 3, 0, base, seq, off, length, len(patches))
    for member, value in patches:
        b += struct.pack("<H", member) + blob32(value)
    return b


def locator(base, seq, off, stored, coding, plain, hash_byte):
    head = b"\x01" if base is None else b"\x02" + bytes([base])
    return head + struct.pack("<IIIBI", seq, off, stored, coding, plain) + bytes([hash_byte]) * 32


def record(ident, meta, payload, versions):
    b = b"\x01" + bytes([1 if versions else 0]) + str16(ident) + str16(b"arbitrary")
    b += str16(b"rotated") + str16(b"default")
    b += struct.pack("<qqH", 1790812800000000000, 1795089600000000000, 1) + str16(b"prod")
    b += blob32(meta) + payload + struct.pack("<I", len(versions))
    for vid, created, loc in versions:
        b += str16(vid) + struct.pack("<q", created) + loc + blob32(b"{}")
    return b


def ref_seed(name, nbases, meta, body):
    put("ref_record", name, bytes([nbases]) + struct.pack("<H", len(meta)) + meta + body)


meta_same = (b'{"id":"incr-same","name":"same","secret_type":"arbitrary",'
             b'"retrieved_at":"2026-11-20T00:00:00Z"}')
meta_two = (b'{"id":"incr-two","name":"two","secret_type":"arbitrary","downloaded":false,'
            b'"state":0,"retrieved_at":"2026-11-20T00:00:00Z"}')
retrieved = b'"2026-11-20T01:00:00Z"'
ref_seed("incr-same.bin", 1, meta_same, ref(0, 0, 0, 341, [(3, retrieved)]))
ref_seed("incr-two.bin", 1, meta_two, ref(0, 0, 341, 300, [(3, b"true"), (4, b"1"), (5, retrieved)]))
ref_seed("incr-chain.bin", 3, meta_two, ref(2, 1, 4000, 77, []))
ref_seed("incr-nested.bin", 2, b'{"a":{"b":[1,2,{"c":null}]},"d":"x"}',
         ref(1, 0, 8, 90, [(0, b'{"b":[]}'), (1, b'"\\u00e9"')]))
ext = record(b"incr-rotated", b'{"id":"incr-rotated","name":"rotated"}',
             locator(0, 0, 0, 9, 0, 9, 0x11),
             [(b"incr-rotated-v1", 1790899200000000000, locator(0, 0, 51, 9, 0, 9, 0x22)),
              (b"incr-rotated-v2", 1795089600000000000, locator(None, 0, 0, 9, 0, 9, 0x33))])
ref_seed("incr-external.bin", 1, b"{}", ext)
ext2 = record(b"incr-deep", b"{}", locator(1, 2, 100, 30, 1, 64, 0x44),
              [(b"v1", 1790899200000000000, locator(1, 2, 100, 30, 1, 64, 0x44))])
ref_seed("incr-external-base1.bin", 2, b'{"k":1}', ext2)

# headers: the committed incremental vectors' headers as they are
for name in ("incr-1", "incr-2"):
    text = open(os.path.join(root, "spec/vectors/v2", name + ".internals.txt")).read()
    m = re.search(r"^header \((\d+) bytes\): ([0-9a-f]+)$", text, re.M)
    put("header", name + ".header", bytes.fromhex(m.group(2)))
