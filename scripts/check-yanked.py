#!/usr/bin/env python3
"""Fails if Cargo.lock pins a crate version that crates.io has yanked.

cargo-deny checks this as part of its advisories, which first need GitHub's RustSec database;
this machine reaches the crates.io index but not GitHub, so the yanked check runs here alone.
"""
import concurrent.futures
import json
import sys
import time
import tomllib
import urllib.error
import urllib.request

INDEX = "https://index.crates.io"


def index_path(name: str) -> str:
    n = name.lower()
    if len(n) <= 2:
        return f"{len(n)}/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[:2]}/{n[2:4]}/{n}"


class Unreachable(Exception):
    pass


def fetch(url: str) -> str:
    # The network here drops a lookup now and then: try again before giving up.
    for attempt in range(6):
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return r.read().decode()
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            last = e
            time.sleep(0.5 * 2**attempt)
    raise Unreachable(f"{url}: {last}")


def yanked(pkg):
    name, version = pkg["name"], pkg["version"]
    for line in fetch(f"{INDEX}/{index_path(name)}").splitlines():
        entry = json.loads(line)
        if entry["vers"] == version:
            return entry.get("yanked", False)
    raise LookupError(f"{name} {version} is not in the crates.io index")


def main() -> int:
    with open(sys.argv[1] if len(sys.argv) > 1 else "Cargo.lock", "rb") as f:
        lock = tomllib.load(f)
    pkgs = [p for p in lock["package"] if "registry+" in p.get("source", "")]
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(yanked, pkgs))
    except Unreachable as e:
        # No index, no answer either way: say so loudly rather than fail a build for the network.
        print(f"WARNING: the crates.io index cannot be reached, yanked crates NOT checked ({e})")
        return 0
    bad = [f'{p["name"]} {p["version"]}' for p, y in zip(pkgs, results) if y]
    print(f"{len(pkgs)} crates from crates.io checked, {len(bad)} yanked")
    for b in bad:
        print(f"  yanked: {b}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
