#!/usr/bin/env python3
"""Regenerate the Helm chart's values.schema.json and README values table.

Both come from ``values.yaml`` (its ``## @param <path> [modifier] description``
comments and default values) plus the application's own config schema
(``chatkit-onprem config schema``), embedded under ``config`` so operators are
checked against exactly what the server accepts. Run it after changing either:

    .venv/bin/python scripts/chart_schema.py          # rewrite both files
    .venv/bin/python scripts/chart_schema.py --check  # exit 1 if either is stale

Modifiers: ``[object]`` a free-form object (the key is one parameter);
``[array]`` a list of anything; ``[config]`` the application config;
``[destinations]`` a list of NetworkPolicy egress destinations (``{to, ports}``
or ``{cidr, ports}``); ``[enum: a, b]``; ``[integer|string]`` explicit types.
Without one, the type comes from the default value. ``## @open <path>`` leaves
that mapping open to keys values.yaml does not list (``global``, for umbrella
charts); every other mapping is closed.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "chatkit-onprem"
VALUES = CHART / "values.yaml"
SCHEMA = CHART / "values.schema.json"
README = CHART / "README.md"
TABLE_START = "<!-- values-table:start (scripts/chart_schema.py) -->"
TABLE_END = "<!-- values-table:end -->"

_PARAM = re.compile(r"^\s*##\s*@param\s+(\S+)\s+(?:\[([^\]]+)\]\s+)?(.*)$")
_SECTION = re.compile(r"^\s*##\s*@section\s+(.*)$")
_OPEN = re.compile(r"^\s*##\s*@open\s+(\S+)\s*$")


class Param:
    def __init__(self, path: str, modifier: str | None, description: str, section: str):
        self.path, self.modifier, self.description, self.section = path, modifier, description, section


def read_params(text: str) -> list[Param]:
    params: list[Param] = []
    section = ""
    for line in text.splitlines():
        if m := _SECTION.match(line):
            section = m.group(1).strip()
        elif m := _PARAM.match(line):
            params.append(Param(m.group(1), m.group(2), m.group(3).strip(), section))
    return params


def read_open(text: str) -> list[str]:
    return [m.group(1) for line in text.splitlines() if (m := _OPEN.match(line))]


def lookup(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


def undocumented(values: dict[str, Any], documented: set[str], prefix: str = "") -> list[str]:
    """Keys that are neither documented nor a non-empty mapping of documented keys."""
    missing: list[str] = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path in documented:
            continue
        if isinstance(value, dict) and value:
            missing += undocumented(value, documented, f"{path}.")
        else:
            missing.append(path)
    return missing


def app_config_schema() -> dict[str, Any]:
    """The server's own config schema, plus the ``<secret>_file`` keys it also accepts."""
    from chatkit_onprem.config import Settings

    schema = Settings.model_json_schema()

    def is_secret(prop: dict[str, Any]) -> bool:
        options = prop.get("anyOf", [prop])
        return any(o.get("format") == "password" for o in options)

    def add_file_keys(obj: dict[str, Any]) -> None:
        props = obj.get("properties", {})
        for name, prop in list(props.items()):
            if is_secret(prop):
                props[f"{name}_file"] = {
                    "type": "string",
                    "description": f"Path of a file holding {name} (instead of the value).",
                }

    add_file_keys(schema)
    for definition in schema.get("$defs", {}).values():
        add_file_keys(definition)
    return schema


_PORT = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": 65535},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["port"],
            "properties": {
                "port": {"type": ["integer", "string"]},
                "endPort": {"type": "integer", "minimum": 1, "maximum": 65535},
                "protocol": {"type": "string", "enum": ["TCP", "UDP", "SCTP"]},
            },
        },
    ]
}
_DESTINATIONS = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "to": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "object"},
                "description": "NetworkPolicyPeers (podSelector, namespaceSelector, ipBlock), as in a NetworkPolicy",
            },
            "cidr": {"type": "string", "description": "Shorthand for to: [{ipBlock: {cidr}}], e.g. 10.20.0.0/16"},
            "ports": {
                "type": "array",
                "items": _PORT,
                "description": "Ports (TCP unless given as {port, protocol}); empty: every port",
            },
        },
        "oneOf": [{"required": ["to"]}, {"required": ["cidr"]}],
    },
}


def leaf_schema(param: Param, default: Any) -> dict[str, Any]:
    mod = param.modifier
    out: dict[str, Any]
    if mod == "object":
        out = {"type": "object"}
    elif mod == "config":
        out = {"$ref": "#/$defs/ApplicationConfig"}
    elif mod == "destinations":
        out = copy.deepcopy(_DESTINATIONS)
    elif mod == "array":
        out = {"type": "array"}
    elif mod and mod.startswith("enum:"):
        choices = [c.strip().strip('"') for c in mod[len("enum:") :].split(",")]
        out = {"type": "string", "enum": choices}
    elif mod:
        types = [t.strip() for t in mod.split("|")]
        out = {"type": types if len(types) > 1 else types[0]}
    elif isinstance(default, bool):
        out = {"type": "boolean"}
    elif isinstance(default, int):
        out = {"type": "integer"}
    elif isinstance(default, float):
        out = {"type": "number"}
    elif isinstance(default, str):
        out = {"type": "string"}
    elif isinstance(default, list):
        out = {"type": "array"}
        if (
            (default
            and all(isinstance(x, str) for x in default))
            or param.path.endswith(("pullSecrets", "imagePullSecrets"))
        ):
            out["items"] = {"type": "string"}
    elif isinstance(default, dict):
        out = {"type": "object"}
    else:
        raise SystemExit(f"{param.path}: cannot infer a type from {default!r}; add a [type] modifier")
    if mod != "config":
        out["description"] = param.description
    return out


def build_schema(values: dict[str, Any], params: list[Param], open_paths: list[str] | None = None) -> dict[str, Any]:
    app = app_config_schema()
    defs = app.pop("$defs", {})
    app["description"] = next(p.description for p in params if p.modifier == "config")
    defs["ApplicationConfig"] = app
    root: dict[str, Any] = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "chatkit-onprem chart values",
        "type": "object",
        "additionalProperties": False,
        "properties": {},
        "$defs": dict(sorted(defs.items())),
    }
    for param in params:
        node = root
        parts = param.path.split(".")
        for part in parts[:-1]:
            props = node.setdefault("properties", {})
            node = props.setdefault(part, {"type": "object", "additionalProperties": False, "properties": {}})
        node.setdefault("properties", {})[parts[-1]] = leaf_schema(param, lookup(values, param.path))
    for path in open_paths or []:
        node = root
        for part in path.split("."):
            node = node["properties"][part]
        node["additionalProperties"] = True
    return root


def build_table(values: dict[str, Any], params: list[Param]) -> str:
    lines: list[str] = []
    section = None
    for param in params:
        if param.section != section:
            section = param.section
            lines += ["", f"### {section}", "", "| Name | Description | Value |", "|---|---|---|"]
        default = lookup(values, param.path)
        shown = (
            "see [Application configuration](#application-configuration)"
            if param.modifier == "config"
            else ("`" + json.dumps(default) + "`")
        )
        description = param.description.replace("|", "\\|")
        lines.append(f"| `{param.path}` | {description} | {shown} |")
    return "\n".join(lines).strip() + "\n"


def generate() -> tuple[str, str]:
    text = VALUES.read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    params = read_params(text)
    problems = [
        f"{p}: in values.yaml without an '## @param' comment"
        for p in undocumented(values, {p.path for p in params})
    ]
    for param in params:
        try:
            lookup(values, param.path)
        except KeyError:
            problems.append(f"{param.path}: documented by '## @param' but not in values.yaml")
    if problems:
        raise SystemExit("values.yaml:\n  " + "\n  ".join(problems))
    schema = json.dumps(build_schema(values, params, read_open(text)), indent=2) + "\n"
    readme = README.read_text(encoding="utf-8")
    if TABLE_START not in readme or TABLE_END not in readme:
        raise SystemExit(f"{README}: the markers {TABLE_START} / {TABLE_END} are missing")
    head, rest = readme.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    readme = f"{head}{TABLE_START}\n{build_table(values, params)}{TABLE_END}{tail}"
    return schema, readme


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail if the files are not current")
    args = parser.parse_args()
    schema, readme = generate()
    stale = [
        p
        for p, want in ((SCHEMA, schema), (README, readme))
        if not p.is_file() or p.read_text(encoding="utf-8") != want
    ]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run scripts/chart_schema.py", file=sys.stderr)
        return 1 if stale else 0
    SCHEMA.write_text(schema, encoding="utf-8")
    README.write_text(readme, encoding="utf-8")
    for path in stale:
        print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
