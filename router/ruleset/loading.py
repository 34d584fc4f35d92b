"""Read YAML rule files keeping the line of every value, so errors can point at it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from router.ruleset.problems import Path, Problem, dotted

RULE_SECTIONS = (
    "products",
    "default_product",
    "segments",
    "unknown_segment",
    "reps",
    "queues",
    "fallbacks",
    "territories",
    "accounts",
    "overlays",
)


@dataclass
class SourceMap:
    """Where each value of the merged rule document came from: file and line."""

    origins: dict[Path, tuple[str, int]] = field(default_factory=dict)

    def locate(self, path: Path) -> tuple[str, int]:
        """The file and line of the value at path, or of its nearest located parent."""
        for cut in range(len(path), -1, -1):
            found = self.origins.get(path[:cut])
            if found:
                return found
        return ("<rules>", 0)


@dataclass
class LoadedRules:
    """The rule files merged into one document, with their origins and raw text."""

    document: dict[str, Any]
    sources: SourceMap
    texts: dict[str, bytes]
    problems: list[Problem]
    unreadable: bool = False


def _walk(
    node: yaml.Node, path: Path, name: str, sources: SourceMap, problems: list[Problem]
) -> None:
    sources.origins[path] = (name, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            if key in seen:
                line = key_node.start_mark.line + 1
                where = dotted((*path, key))
                problems.append(Problem(name, line, where, key, "is given twice in this mapping"))
            seen.add(key)
            _walk(value_node, (*path, key), name, sources, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), name, sources, problems)


# libyaml's parser when PyYAML was built with it: several times faster on large rule sets.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class BadValue(ValueError):
    """A scalar YAML parsed but could not build, such as the date 2026-02-30."""

    def __init__(self, line: int, value: str, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.value = value


def _bad_scalar(node: yaml.Node) -> BadValue | None:
    """The first scalar below node that PyYAML's constructor refuses."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag.endswith(":timestamp"):
            try:
                yaml.safe_load(node.value)
            except ValueError as error:
                return BadValue(node.start_mark.line + 1, node.value, str(error))
        return None
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        children = [v for pair in node.value for v in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    for child in children:
        found = _bad_scalar(child)
        if found is not None:
            return found
    return None


def _cycle(node: yaml.Node, open_nodes: set[int]) -> yaml.Node | None:
    """A node that contains itself through an alias (`a: &x [*x]`), if any."""
    if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        return None
    if id(node) in open_nodes:
        return node
    open_nodes.add(id(node))
    children = (
        [v for pair in node.value for v in pair]
        if isinstance(node, yaml.MappingNode)
        else node.value
    )
    for child in children:
        found = _cycle(child, open_nodes)
        if found is not None:
            return found
    open_nodes.discard(id(node))
    return None


def _parse(text: str, name: str) -> tuple[Any, yaml.Node | None]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        looped = _cycle(node, set()) if node is not None else None
        if looped is not None:
            raise BadValue(looped.start_mark.line + 1, "alias", "an alias that refers to itself")
        try:
            data = loader.construct_document(node) if node is not None else None
        except ValueError as error:
            found = _bad_scalar(node) if node is not None else None
            raise found or BadValue(0, "", str(error)) from None
    finally:
        loader.dispose()
    return data, node


def version_of(texts: dict[str, bytes]) -> str:
    """The rule version: a hash of every file's name and bytes, comments included."""
    digest = hashlib.sha256()
    for file_name in sorted(texts):
        digest.update(file_name.encode() + b"\0" + texts[file_name] + b"\0")
    return digest.hexdigest()[:12]


def directory_version(directory: FsPath) -> str:
    """The version the rules directory would compile to, without compiling it."""
    files = rule_files(directory) if directory.is_dir() else []
    return version_of({str(f.relative_to(directory)): f.read_bytes() for f in files})


def rule_files(directory: FsPath) -> list[FsPath]:
    """Every .yaml/.yml file below the directory, in a stable order."""
    found = [p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    return sorted(found)


def _merge_file(
    data: Any, node: yaml.Node, name: str, merged: dict[str, Any], sources: SourceMap
) -> list[Problem]:
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        return [Problem(name, 1, "", type(data).__name__, "is not a mapping of sections")]
    problems: list[Problem] = []
    for key_node, value_node in node.value:
        section = key_node.value
        line = key_node.start_mark.line + 1
        value = data[section]
        if section not in RULE_SECTIONS:
            expected = "is not a rule section (expected one of: " + ", ".join(RULE_SECTIONS) + ")"
            problems.append(Problem(name, line, "", section, expected))
            continue
        if isinstance(value, list) and isinstance(value_node, yaml.SequenceNode):
            items: list[Any] = merged.setdefault(section, [])
            if not isinstance(items, list):
                problems.append(Problem(name, line, section, section, "is given twice"))
                continue
            offset = len(items)
            items.extend(value)
            for index, item_node in enumerate(value_node.value):
                _walk(item_node, (section, offset + index), name, sources, problems)
            sources.origins.setdefault((section,), (name, line))
        elif section in merged:
            problems.append(Problem(name, line, section, section, "is given in two files"))
        else:
            merged[section] = value
            _walk(value_node, (section,), name, sources, problems)
    return problems


def load_directory(directory: FsPath) -> LoadedRules:
    """Read every rule file below directory and merge their sections.

    List sections (reps, territories, ...) may be split across files; the
    others must be given once. Syntax errors become problems, not exceptions.
    """
    merged: dict[str, Any] = {}
    sources = SourceMap()
    texts: dict[str, bytes] = {}
    problems: list[Problem] = []
    if not directory.is_dir():
        problems.append(Problem(str(directory), 0, "", str(directory), "is not a directory"))
        return LoadedRules(merged, sources, texts, problems, unreadable=True)
    unreadable = False
    files = rule_files(directory)
    if not files:
        problems.append(Problem(str(directory), 0, "", str(directory), "holds no .yaml files"))
    for file in files:
        name = str(file.relative_to(directory.parent)) if directory.parent else str(file)
        raw = file.read_bytes()
        texts[str(file.relative_to(directory))] = raw
        try:
            data, node = _parse(raw.decode("utf-8"), name)
        except UnicodeDecodeError as error:
            problems.append(Problem(name, 0, "", error.reason, "is not UTF-8 text"))
            unreadable = True
            continue
        except BadValue as error:
            expected = f"is not a valid value: {error}"
            problems.append(Problem(name, error.line, "", error.value, expected))
            unreadable = True
            continue
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            detail = getattr(error, "problem", None) or str(error)
            problems.append(Problem(name, line, "", detail, "is a YAML syntax error"))
            unreadable = True
            continue
        if node is None or data is None:
            continue  # an empty file, or one holding only comments or `---`
        problems.extend(_merge_file(data, node, name, merged, sources))
    return LoadedRules(merged, sources, texts, problems, unreadable)
