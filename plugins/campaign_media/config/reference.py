"""The campaign-file and market-file references (``docs/campaign-file.md``, ``docs/market-file.md``),
written from the models' JSON Schemas, so the page says what the code accepts (a test keeps them
equal: ``campaign-media schema --reference campaign`` prints one)."""

from __future__ import annotations

import json
from typing import Any

Schema = dict[str, Any]


def type_of(node: Schema, defs: Schema) -> str:
    """A JSON Schema node as a short type for a person: ``string``, ``list of string``, ``repair | alert``."""
    if "$ref" in node:
        return "object (below)"
    if "enum" in node:
        return " \\| ".join(json.dumps(v) if not isinstance(v, str) else v for v in node["enum"])
    if "const" in node:
        return node["const"] if isinstance(node["const"], str) else json.dumps(node["const"])
    if "anyOf" in node or "oneOf" in node:
        options = node.get("anyOf") or node["oneOf"]
        kinds = [type_of(n, defs) for n in options if n.get("type") != "null"]
        return " or ".join(dict.fromkeys(kinds)) + (" or null" if any(n.get("type") == "null" for n in options)
                                                    else "")
    kind = node.get("type", "any")
    if kind == "array":
        return f"list of {type_of(node.get('items', {}), defs)}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map of {type_of(node['additionalProperties'], defs)}"
    if "format" in node:
        return f"{kind} ({node['format']})"
    return str(kind)


def refs(node: Schema) -> list[str]:
    """The ``$defs`` names a property's schema points at (directly, in a union, a list or a map)."""
    if "$ref" in node:
        return [node["$ref"].rsplit("/", 1)[1]]
    out: list[str] = []
    for child in (*node.get("anyOf", []), *node.get("oneOf", []), node.get("items"), node.get("additionalProperties")):
        if isinstance(child, dict) and child:
            out += refs(child)
    return out


def prose(text: str) -> str:
    """A docstring or description as one Markdown line (``<`` would open an HTML tag)."""
    return " ".join(text.replace("``", "`").replace("<", "&lt;").split())


def shown_default(node: Schema) -> str:
    """A default as the table shows it; one too long for a cell is said in words (the
    description says what it holds)."""
    if "default" not in node:
        return ""
    text = json.dumps(node["default"], ensure_ascii=False)
    if len(text) <= 60:
        return f"`{text}`"
    value = node["default"]
    if isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        return ", ".join(f"`{v['name']}`" for v in value)
    return "each key's own (below)"


def table(model: Schema, defs: Schema) -> list[str]:
    required = set(model.get("required", []))
    rows = ["| key | type | default | what |", "| --- | --- | --- | --- |"]
    for key, node in model.get("properties", {}).items():
        default = "(required)" if key in required else shown_default(node)
        what = node.get("description", "")
        if not what and (names := refs(node)):
            what = defs[names[0]].get("description", "").split("\n\n")[0]
        rows.append(f"| `{key}` | {type_of(node, defs)} | {default} | {prose(what)} |")
    return rows


def reference(schema: Schema, top: str) -> str:
    """Markdown: the top-level keys, then one section per nested object, by its path."""
    defs = schema.get("$defs", {})
    lines = [f"## `{top}`", "", *table(schema, defs)]
    seen: set[str] = set()
    queue = [(key, node) for key, node in schema.get("properties", {}).items()]
    while queue:
        path, node = queue.pop(0)
        for name in refs(node):
            if name in seen:
                continue
            seen.add(name)
            model = defs[name]
            lines += ["", f"## `{path}`", ""]
            if model.get("description"):
                lines += [prose(model["description"]), ""]
            lines += table(model, defs)
            queue += [(f"{path}.{key}", child) for key, child in model.get("properties", {}).items()]
    return "\n".join(lines) + "\n"
