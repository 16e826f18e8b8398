#!/usr/bin/env python3
"""Writes the template `sam deploy` takes once every function is built.

template.yaml builds each function with SAM's rust-cargolambda build method;
scripts/deploy instead builds all of them in ONE `cargo lambda build
--release --arm64` and points each function's CodeUri at its artifact
(target/lambda/<binary>/, holding `bootstrap`). Standard library only: the
template is plain YAML without short tags, edited line by line.

    deploy_template.py TEMPLATE OUT_DIR [--check]
    deploy_template.py --console-config AUTH_DOMAIN CLIENT_ID

The second form prints the operator console's config.json: the API under
/api/ of its own origin, and the user pool's hosted sign-in.

Prints one line per function (name, binary, artifact dir) and the template's
parameters. --check: also fails when an artifact is missing.
"""
import os
import re
import sys


def console_config(domain: str, client_id: str) -> str:
    import json

    if not domain or not client_id:
        print("ConsoleAuthDomain or ConsoleClientId is empty: the console cannot sign in yet",
              file=sys.stderr)
    return json.dumps({"auth": "cognito", "api": "/api",
                       "cognito": {"domain": domain.rstrip("/"), "client_id": client_id}})


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--console-config":
        print(console_config(sys.argv[2], sys.argv[3]))
        return 0
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, out_dir = sys.argv[1], sys.argv[2]
    check = "--check" in sys.argv[3:]
    lines = open(src, encoding="utf-8").read().split("\n")
    repo = os.path.dirname(os.path.abspath(src))
    functions = []  # (name, binary)
    out = []
    name = None
    binary = None
    skip_metadata = False
    for line in lines:
        m = re.match(r"^  (\w+):\s*$", line)
        if m:
            name, binary, skip_metadata = m.group(1), None, False
        if re.match(r"^    Metadata:\s*$", line):
            skip_metadata = True
            continue
        if skip_metadata:
            b = re.match(r"^        Binary:\s*(\S+)\s*$", line)
            if b:
                binary = b.group(1)
            if line.startswith("      ") or not line.strip():
                continue
            skip_metadata = False
        if re.match(r"^      CodeUri:\s*\.\s*$", line):
            if binary is None:
                print(f"{name}: no BuildProperties.Binary before CodeUri", file=sys.stderr)
                return 1
            artifact = os.path.join(repo, "target", "lambda", binary)
            functions.append((name, binary, artifact))
            line = f"      CodeUri: {artifact}"
        out.append(line)
    missing = [f for f in functions if not os.path.isfile(os.path.join(f[2], "bootstrap"))]
    os.makedirs(out_dir, exist_ok=True)
    dest = os.path.join(out_dir, "template.yaml")
    with open(dest, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    for fname, binary, artifact in functions:
        state = "missing" if (fname, binary, artifact) in missing else "ok"
        print(f"function {fname:<20} binary {binary:<12} {state:<8} {artifact}")
    params = re.findall(r"^  (\w+):\s*\n    Type:", "\n".join(lines).split("\nResources:")[0], re.M)
    print("parameters: " + ", ".join(params))
    print(f"template: {dest}")
    if check and missing:
        print(f"{len(missing)} artifact(s) missing: build first", file=sys.stderr)
        return 1
    return 0 if functions else 1


if __name__ == "__main__":
    sys.exit(main())
