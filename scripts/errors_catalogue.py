#!/usr/bin/env python3
"""Fills in docs/errors.md: runs each catalogued command (the lines `    genforge …` under a `### N. title`) in a
folder holding the fixture files and rewrites the `    error: …` and `    hint: …` lines below it with what the
binary printed. A line the doc ends in " …" is compared by its prefix (a list that grows with the registry) and
is kept as written. Review the diff: the test tests/errors_catalogue_test.cpp then holds the binary to the doc.

    python3 scripts/errors_catalogue.py build/genforge FIXTURE_DIR

FIXTURE_DIR is made by the test (GF_KEEP_ERRORS_FIXTURE=DIR ./build/tests/genforge_tests
--gtest_filter=ErrorsCatalogue.*) so that both run the commands in the same folder."""
import os
import re
import shlex
import subprocess
import sys


def main():
    binary, fixture = os.path.abspath(sys.argv[1]), sys.argv[2]
    doc_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "errors.md")
    lines = open(doc_path).read().split("\n")
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if not line.startswith("    genforge "):
            continue
        args = shlex.split(line.strip())[1:]
        r = subprocess.run([binary, *args], cwd=fixture, capture_output=True, text=True)
        err = [l for l in r.stderr.split("\n") if l.startswith("error: ")]
        got_error = err[0] if err else f"(exit {r.returncode}, no error line)"
        got_hint = r.stderr.split("\n")[r.stderr.split("\n").index(got_error) + 1] if err else ""
        old = []
        while i < len(lines) and (lines[i].startswith("    error: ") or lines[i].startswith("    hint: ")):
            old.append(lines[i])
            i += 1
        for got, prefix in ((got_error, "    error: "), (got_hint, "    hint: ")):
            kept = [o for o in old if o.startswith(prefix) and o.endswith(" …") and ("    " + got).startswith(o[:-2])]
            out.append(kept[0] if kept else "    " + got)
    open(doc_path, "w").write("\n".join(out))


if __name__ == "__main__":
    main()
