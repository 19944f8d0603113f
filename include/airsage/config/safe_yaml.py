"""Safe YAML for use-case files: a PyYAML ``SafeLoader`` without anchors, aliases or duplicate keys, with size,
encoding, date and depth limits, and the lookup of a key's line in the composed document."""
from __future__ import annotations

from typing import Any

from airsage.errors import ConfigError

MAX_YAML_BYTES = 1 << 20  # a use case is a few KiB; anything near this is a mistake or an attack
MAX_YAML_DEPTH = 64


def _yaml_loader(source: str):
    """A PyYAML ``SafeLoader`` that refuses anchors and aliases (no billion laughs, no merge keys) and
    duplicate keys (naming both lines), and turns an impossible date into a ConfigError."""
    import yaml

    class _Loader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                kind = "alias *" if isinstance(event, yaml.AliasEvent) else "anchor &"
                raise ConfigError(f"YAML {kind}{event.anchor} at line {event.start_mark.line + 1}: anchors and "
                                  "aliases are not allowed in a use case", source=source,
                                  fix="Write the repeated values out in full (no '&name' / '*name' / '<<:').")
            self._depth = getattr(self, "_depth", 0) + 1
            try:
                if self._depth > MAX_YAML_DEPTH:
                    raise ConfigError(f"YAML nested more than {MAX_YAML_DEPTH} levels deep at line "
                                      f"{event.start_mark.line + 1}", source=source,
                                      fix="A use case is a few levels deep: check the indentation and brackets.")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def construct_mapping(self, node, deep=False):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: PyYAML reports it below
                    first = None
                if first is not None:
                    path = _node_path(self._root, key_node)
                    raise ConfigError(f"duplicate key {key!r} at lines {first} and {line}: the second would "
                                      "silently replace the first", source=source, key=path or str(key),
                                      fix=f"Keep one {key!r} entry (merge the two blocks) and delete the other.")
                try:
                    seen[key] = line
                except TypeError:
                    pass
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_timestamp(self, node):
            try:
                return super().construct_yaml_timestamp(node)
            except ValueError as exc:
                raise ConfigError(f"{node.value!r} at line {node.start_mark.line + 1} is not a valid date ({exc})",
                                  source=source, key=_node_path(self._root, node) or None,
                                  fix="Write a real calendar date as YYYY-MM-DD, e.g. 2026-11-01.") from None

    _Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)
    return _Loader


def _node_path(root, target) -> str:
    """The dotted key path of ``target`` (a key or value node) in the composed document ``root``."""
    import yaml

    def walk(node, path):
        if node is target:
            return path
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                name = str(getattr(k, "value", "?"))
                if k is target:
                    return [*path, name]
                found = walk(v, [*path, name])
                if found is not None:
                    return found
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                found = walk(item, [*path, str(i)])
                if found is not None:
                    return found
        return None

    return ".".join(walk(root, []) or []) if root is not None else ""


def _node_line(root, loc: tuple) -> int | None:
    """The 1-based line of the key at pydantic location ``loc`` (as deep as the document has it)."""
    import yaml

    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if str(getattr(k, "value", "")) == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def load_yaml_text(data: bytes, source: str) -> tuple[Any, Any]:
    """Parse a use-case file's bytes safely: ``(python value, composed root node)``. Refuses non-UTF-8
    bytes, files over ``MAX_YAML_BYTES``, anchors/aliases, duplicate keys, impossible dates and
    excessive nesting, each with a ConfigError naming the file, the line, the key and the fix."""
    import yaml

    if len(data) > MAX_YAML_BYTES:
        raise ConfigError(f"the file is {len(data)} bytes, over the {MAX_YAML_BYTES} byte limit for a use case",
                          source=source, fix="A use case is a few KiB of YAML: check that this is the right file.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line} (offset {exc.start})",
                          source=source, fix="Save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8).") from None
    loader = _yaml_loader(source)(text.removeprefix("\ufeff"))
    loader._root = None
    try:
        root = loader.get_single_node()
        loader._root = root
        value = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{where}: {exc.problem or exc}", source=source,
                          fix="Fix the YAML syntax at the line named (indentation, a missing ':' or quote).") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", source=source, fix="Fix the YAML syntax.") from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply", source=source,
                          fix="A use case is a few levels deep: check the indentation and brackets.") from None
    finally:
        loader.dispose()
    return value, root
