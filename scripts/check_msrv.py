#!/usr/bin/env python3
"""The MSRV, checked cheaply (CI cannot install another toolchain): every workspace member
declares the same `rust-version`, and the toolchain in use is at least that version.

    python3 scripts/check_msrv.py
"""

import json
import subprocess
import sys


def version(text):
    return tuple(int(p) for p in text.split("-")[0].split("."))


def main():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--no-deps", "--format-version", "1"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    members = set(meta["workspace_members"])
    found = {p["name"]: p.get("rust_version") for p in meta["packages"] if p["id"] in members}
    missing = sorted(n for n, v in found.items() if not v)
    if missing:
        print(f"msrv: no rust-version in {', '.join(missing)}")
        return 1
    distinct = sorted(set(found.values()), key=version)
    if len(distinct) != 1:
        print(f"msrv: members disagree on rust-version: {found}")
        return 1
    msrv = distinct[0]
    rustc = subprocess.run(["rustc", "--version"], check=True, capture_output=True, text=True).stdout
    have = rustc.split()[1]
    if version(have) < version(msrv):
        print(f"msrv: toolchain {have} is older than the declared rust-version {msrv}")
        return 1
    print(f"msrv: rust-version {msrv} in all {len(found)} members; toolchain {have} >= {msrv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
