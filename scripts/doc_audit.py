#!/usr/bin/env python3
"""Audits the public API docs of the library crates.

Every public function that returns a `Result` must have an `# Errors` section; every public
async function (and async method of a public trait) must have a `# Cancel safety` section.
Prints one line per gap, `path:line: fn name: missing ...`, and exits 1 if there is any gap
outside the paths given with --allow (known gaps being fixed elsewhere, reported as notes).

    python3 scripts/doc_audit.py rocketmq-sdk/src rocketmq-embedded-broker/src \
        [--allow rocketmq-sdk/src/consumer]
"""

import argparse
import os
import re
import sys

FN = re.compile(r"^(\s*)(pub\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")
TRAIT = re.compile(r"^(\s*)pub\s+trait\s+\w+")


def doc_block(lines, i):
    """The doc comment lines (and attributes) right above line i."""
    out = []
    j = i - 1
    while j >= 0:
        s = lines[j].strip()
        if s.startswith("///") or s.startswith("#[") or s.startswith("#!["):
            out.append(s)
            j -= 1
        elif s.endswith(")]") or s.endswith(")") and lines[j].startswith(" " * 4):
            # continuation of a multi-line attribute
            out.append(s)
            j -= 1
        else:
            break
    return "\n".join(reversed(out))


def signature(lines, i):
    """The function signature from line i up to its body or `;`."""
    sig = []
    for k in range(i, min(i + 30, len(lines))):
        sig.append(lines[k])
        if "{" in lines[k] or lines[k].rstrip().endswith(";"):
            break
    text = " ".join(sig)
    return text.split("{", 1)[0]


def return_type(sig):
    """What follows the `->` of the function itself, not one inside a parameter's type
    (`decode: fn(&M) -> Result<T, E>`): the first `->` after the parameter list closes."""
    start = sig.find("(")
    if start < 0:
        return ""
    depth = 0
    for k in range(start, len(sig)):
        c = sig[k]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                rest = sig[k + 1:]
                return rest.split("->", 1)[1] if "->" in rest else ""
    return ""


def audit_file(path):
    gaps = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    trait_indent = None
    for i, line in enumerate(lines):
        if re.match(r"^(#\[cfg\(test\)\]|mod tests\b)", line):
            break
        t = TRAIT.match(line)
        if t:
            trait_indent = len(t.group(1))
            continue
        if trait_indent is not None and line.startswith(" " * trait_indent + "}"):
            if line.strip() == "}" and len(line) - len(line.lstrip()) == trait_indent:
                trait_indent = None
        m = FN.match(line)
        if not m:
            continue
        indent, is_pub, is_async, name = m.group(1), m.group(2), m.group(4), m.group(6)
        in_pub_trait = trait_indent is not None and len(indent) == trait_indent + 4
        if not is_pub and not in_pub_trait:
            continue
        if "pub(" in line.split("fn", 1)[0]:
            continue
        docs = doc_block(lines, i)
        if "#[doc(hidden)]" in docs:
            continue
        sig = signature(lines, i)
        ret = return_type(sig)
        ret = re.split(r"\bwhere\b", ret, maxsplit=1)[0]
        missing = []
        if re.search(r"\bResult\s*<|\bResult\b\s*$|->\s*Result\b", "->" + ret) and "# Errors" not in docs:
            missing.append("# Errors")
        if is_async and "# Cancel safety" not in docs:
            missing.append("# Cancel safety")
        if missing:
            gaps.append((path, i + 1, name, missing))
    return gaps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--allow", action="append", default=[], help="known gaps under this path")
    args = ap.parse_args()
    gaps = []
    for root in args.paths:
        for dirpath, _, files in os.walk(root):
            for f in sorted(files):
                if f.endswith(".rs") and f != "tests.rs":
                    gaps.extend(audit_file(os.path.join(dirpath, f)))
    failing = 0
    for path, line, name, missing in sorted(gaps):
        allowed = any(os.path.normpath(path).startswith(os.path.normpath(a)) for a in args.allow)
        tag = "note (allowed)" if allowed else "error"
        failing += not allowed
        print(f"{path}:{line}: {tag}: fn {name}: missing {' and '.join(missing)}")
    print(f"doc audit: {len(gaps)} gap(s), {failing} not allowed")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
