#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every source file the project wrote opens with its SPDX license line (MIT, LICENSE).
  scripts/spdx.py          adds the line where it is missing
  scripts/spdx.py --check  lists the files without it and fails (make check runs this)"""
import subprocess, sys

PATTERNS = ["*.c", "*.h", "*.cc", "*.py", "*.sh", "*.lua", "*.map", "*.in", "Makefile", ".ci/run"]
C_LIKE = (".c", ".h", ".cc", ".map")

def files():
    r = subprocess.run(["git", "ls-files", "--"] + PATTERNS, capture_output=True, text=True)
    if r.returncode != 0:  # not a git work tree (a tarball): nothing to list
        print("spdx: not a git work tree, not checked", file=sys.stderr)
        return []
    out = r.stdout.split()
    return [f for f in out if not f.startswith(("fuzz/corpus/", "fuzz/engine-corpus/"))]

def has(text):
    return "SPDX-License-Identifier:" in "\n".join(text.split("\n", 3)[:3])

def add(text, name):
    if name.endswith(C_LIKE):
        return "/* SPDX-License-Identifier: MIT */\n" + text
    mark = "-- " if name.endswith(".lua") else "# "
    if text.startswith("#!"):
        first, rest = text.split("\n", 1)
        return first + "\n" + mark + "SPDX-License-Identifier: MIT\n" + rest
    return mark + "SPDX-License-Identifier: MIT\n" + text

check = "--check" in sys.argv
missing = []
for f in files():
    text = open(f).read()
    if has(text):
        continue
    missing.append(f)
    if not check:
        open(f, "w").write(add(text, f))
if check and missing:
    print("no SPDX-License-Identifier line at the top of: " + " ".join(missing) +
          " (scripts/spdx.py adds it)", file=sys.stderr)
    sys.exit(1)
if not check:
    print(f"{len(missing)} files given their SPDX line")
