#!/usr/bin/env python3
"""List C functions longer than a limit (default 80 lines) and C files longer
than a file limit (default 600 lines).

A function is counted from the first line of its signature to its closing
brace, inclusive. The code is clang-formatted with attached braces, so a
definition starts at column 0 and its body ends at the first '}' at column 0;
signatures wrapped over several lines are followed until their '{'.

usage: scripts/long-functions.py [--max N] [--max-file N] [DIR...]
       (default DIRs: src bench; exit status 1 when anything is over)
"""
import argparse
import os
import re
import sys

SKIP = re.compile(r"^(#|//|/\*|\*| |\t|}|typedef |struct [A-Za-z_0-9]+ *{|enum |union |static const |extern )")


def functions(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if not line or SKIP.match(line) or "(" not in line:
            i += 1
            continue
        # follow a wrapped signature to its '{' (a definition) or ';' (a prototype)
        j = i
        sig = line
        while j < n and not sig.rstrip().endswith("{") and ";" not in sig and "=" not in sig:
            j += 1
            if j >= n:
                break
            sig += " " + lines[j].strip()
        if j >= n or not sig.rstrip().endswith("{") or "=" in sig.split("(")[0]:
            i = j + 1
            continue
        k = j + 1
        while k < n and not lines[k].startswith("}"):
            k += 1
        m = re.search(r"([A-Za-z_][A-Za-z_0-9]*)\s*\(", sig)
        name = m.group(1) if m else "?"
        yield name, i + 1, k - i + 1
        i = k + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=80)
    ap.add_argument("--max-file", type=int, default=600)
    ap.add_argument("dirs", nargs="*", default=["src", "bench"])
    a = ap.parse_args()
    over = 0
    for d in a.dirs:
        for root, _, files in os.walk(d):
            for fn in sorted(files):
                if not fn.endswith((".c", ".h")):
                    continue
                p = os.path.join(root, fn)
                with open(p, encoding="utf-8", errors="replace") as f:
                    total = f.read().count("\n")
                if fn.endswith(".c") and total > a.max_file:
                    print(f"{p}: file {total} lines")
                    over += 1
                for name, start, length in functions(p):
                    if length > a.max:
                        print(f"{p}:{start}: {name} {length} lines")
                        over += 1
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
