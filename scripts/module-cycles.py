#!/usr/bin/env python3
"""Reports import cycles between the modules of a crate.

Builds the graph of `use crate::...` (and `crate::` paths in code) between the
source files of one crate, where each file is one module, and prints every
strongly connected component with more than one module. Exit status 1 if there
is a cycle. A path into a child module counts as an edge to that child, a path
to an item of a module as an edge to the module itself, a child's `super::` as
an edge to its parent and a parent's `child::` path as one to the child (but
not a `pub use child::...` re-export: a folder's mod.rs is its facade); `#[cfg(test)]` test
modules (files named tests.rs) are left out, since they sit above everything.

Usage: scripts/module-cycles.py [persist-core/src]
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "persist-core/src"

modules = {}  # module path ("backend::local") -> file
for dirpath, _, files in os.walk(root):
    for name in files:
        if not name.endswith(".rs"):
            continue
        rel = os.path.relpath(os.path.join(dirpath, name), root)[:-3].split(os.sep)
        if rel[-1] in ("mod", "lib"):
            rel = rel[:-1]
        modules["::".join(rel)] = os.path.join(dirpath, name)

def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] if "//" in line and '"' not in line.split("//")[0] else line
                     for line in text.splitlines() if not line.lstrip().startswith("//"))

def resolve(parts):
    """The longest module prefix of a path."""
    for n in range(len(parts), 0, -1):
        cand = "::".join(parts[:n])
        if cand in modules:
            return cand
    return ""

def expand(prefix, body):
    """The paths of a use tree body (`a::b, c::{d, e}`), each after `prefix`."""
    out, depth, start = [], 0, 0
    items = []
    for i, ch in enumerate(body + ","):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(body[start:i].strip())
            start = i + 1
    for item in items:
        item = item.split(" as ")[0].strip()
        if not item or item == "self":
            continue
        if "{" in item:
            head, rest = item.split("{", 1)
            sub = prefix + [p for p in head.split("::") if p]
            out.append(sub)
            out.extend(expand(sub, rest[: rest.rindex("}")]))
        else:
            out.append(prefix + [p for p in item.split("::") if p])
    return out


def uses(module, text):
    found = set()
    # Not `pub(super)` / `pub(crate)`: visibilities, not paths.
    for m in re.finditer(r"(?<!\()\b(crate|super)((?:::\w+)*)(::\{)?", text):
        parts = module.split("::") if module else []
        if m.group(1) == "super":
            is_mod_rs = modules[module].endswith(("mod.rs", "lib.rs"))
            base = parts[:-2] if is_mod_rs else parts[:-1]
        else:
            base = []
        head = base + [p for p in m.group(2).split("::") if p]
        # `crate::ops::{a, b}` names the modules a and b, not ops itself.
        targets = [] if m.group(3) else [head]
        if m.group(3):
            depth, i = 1, m.end()
            while depth and i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            targets += expand(head, text[m.end() : i - 1])
        for t in targets:
            target = resolve(t)
            if target and target != module:
                found.add(target)
    # A parent's own paths into its children (`walk::type_dirs`, `pub use gc::Gc`).
    for child in re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text, flags=re.M):
        name = f"{module}::{child}" if module else child
        # Re-exports are the folder's facade, not a use of the child.
        rest = re.sub(r"^\s*pub(?:\([^)]*\))?\s+use\s+[^;]*;", "", text, flags=re.M)
        if name in modules and re.search(r"(?<![:\w])" + child + r"::", rest):
            found.add(name)
    return found


graph = {}
for module, path in modules.items():
    if module.split("::")[-1] == "tests" or module == "":
        continue
    with open(path) as f:
        text = strip_comments(f.read())
    # An inline `#[cfg(test)] mod tests { ... }` (last in its file by
    # convention) sits above everything, like a tests.rs.
    text = re.split(r"#\[cfg\(test\)\]\s*mod\s+tests\s*\{", text)[0]
    graph[module] = {t for t in uses(module, text) if t and t.split("::")[-1] != "tests" and t != ""}

# Tarjan's strongly connected components.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in graph.get(v, ()):
        if w not in graph:
            continue
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))
for v in sorted(graph):
    if v not in index:
        visit(v)

edges = sum(len(v) for v in graph.values())
print(f"{len(graph)} modules, {edges} edges")
if "-v" in sys.argv:
    for v in sorted(graph):
        print(f"  {v} -> {', '.join(sorted(graph[v]))}")
for comp in sccs:
    print("cycle:", " <-> ".join(comp))
sys.exit(1 if sccs else 0)
