#!/usr/bin/env python3
"""Fails if Cargo.lock pins a crate version that crates.io has yanked.

cargo-deny checks this as part of its advisories, which first need GitHub's RustSec database;
this machine reaches the crates.io index but not GitHub, so the yanked check runs here alone.
"""
import concurrent.futures
import json
import sys
import tomllib
import urllib.request

INDEX = "https://index.crates.io"


def index_path(name: str) -> str:
    n = name.lower()
    if len(n) <= 2:
        return f"{len(n)}/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[:2]}/{n[2:4]}/{n}"


def yanked(pkg):
    name, version = pkg["name"], pkg["version"]
    with urllib.request.urlopen(f"{INDEX}/{index_path(name)}", timeout=30) as r:
        for line in r.read().decode().splitlines():
            entry = json.loads(line)
            if entry["vers"] == version:
                return entry.get("yanked", False)
    raise LookupError(f"{name} {version} is not in the crates.io index")


def main() -> int:
    with open(sys.argv[1] if len(sys.argv) > 1 else "Cargo.lock", "rb") as f:
        lock = tomllib.load(f)
    pkgs = [p for p in lock["package"] if "registry+" in p.get("source", "")]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(yanked, pkgs))
    bad = [f'{p["name"]} {p["version"]}' for p, y in zip(pkgs, results) if y]
    print(f"{len(pkgs)} crates from crates.io checked, {len(bad)} yanked")
    for b in bad:
        print(f"  yanked: {b}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
