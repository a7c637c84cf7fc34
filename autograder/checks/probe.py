"""A probe: the hidden part of a test cell that runs in the student's kernel.

``Probe(function, inputs)`` names a function of a kernel-side module (the course's are
in ``autograder/checks/in_kernel/``, whose docstring says what such a module may do)
and the hidden inputs it is called with. Its code for the kernel (``source``) is that
function and what it uses of its module and the kernel-side modules that module
imports from, found by following names, with the imports they need: one block of plain
Python, the same for the grader's probe cell (``autograder/grading/probes.py``), the
hidden block that plain nbgrader runs (``checks/hidden_blocks.py``) and a run in this
process (``run_here``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from autograder.checks.in_kernel.emit import as_json_text

IN_KERNEL = "autograder.checks.in_kernel"


@dataclass(frozen=True)
class Probe:
    """``function(namespace, **inputs)`` in the student's kernel: ``namespace`` is the
    notebook's, ``inputs`` the hidden inputs (JSON data); it returns JSON data."""

    function: Callable[..., Any]
    inputs: dict = field(default_factory=dict)

    def __post_init__(self):
        # plain data, written out as a Python literal: as JSON has it (tuples as lists)
        object.__setattr__(self, "inputs", json.loads(json.dumps(self.inputs,
                                                                 allow_nan=False)))

    @property
    def name(self) -> str:
        return self.function.__name__

    def source(self, *also: Callable) -> str:
        """The code that defines the function (and ``also``), what they use of the
        in-kernel modules, and the imports these need."""
        return code_for([self.function, *also])

    def call(self, namespace: str = "globals()") -> str:
        """The expression that calls the probe on the notebook's namespace and its
        hidden inputs."""
        return f"{self.name}({namespace}, **hidden_inputs)"

    def inputs_line(self) -> str:
        """The statement that writes the hidden inputs out, before ``call``."""
        return f"hidden_inputs = {self.inputs!r}"

    def run_here(self, namespace: dict):
        """Run the probe's code on ``namespace`` in this process, as a kernel would:
        its value as the grader reads it (JSON text, parsed)."""
        scope: dict = {"__name__": "probe"}
        code = compile(self.source(), f"<probe {self.name}>", "exec")
        exec(code, scope)  # noqa: S102 - the probe's own code, as a kernel runs it
        inputs = json.loads(json.dumps(self.inputs))  # a fresh copy, as a kernel parses one
        value = scope[self.name](namespace, **inputs)
        return json.loads(as_json_text(value))


# ----------------------------------------------------------------------------- code
@dataclass
class _Module:
    """One in-kernel module's top level: what each name is bound to."""

    name: str
    definitions: dict = field(default_factory=dict)  # name -> def or assignment node
    imports: dict = field(default_factory=dict)  # name -> import node (not in-kernel)
    links: dict = field(default_factory=dict)  # name -> in-kernel module it comes from


def _kernel_side(module_name: str, packages: set[str]) -> bool:
    return any(module_name.startswith(package + ".") for package in packages)


def _read(module_name: str, packages: set[str]) -> _Module:
    tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    module = _Module(module_name)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            module.definitions[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        module.definitions[name.id] = node
        elif isinstance(node, ast.ImportFrom) and _kernel_side(node.module or "", packages):
            for alias in node.names:
                if alias.asname:
                    raise ValueError(f"{module_name}: import {alias.name} without 'as'")
                module.links[alias.name] = node.module
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                module.imports[(alias.asname or alias.name).split(".")[0]] = node
    return module


def code_for(functions: list[Callable]) -> str:
    """The imports and definitions these functions need, in their modules' order;
    names imported from the kernel-side modules (``in_kernel/`` and the functions' own
    packages) are followed into them."""
    packages = {IN_KERNEL} | {f.__module__.rpartition(".")[0] for f in functions} - {""}
    modules: dict[str, _Module] = {}
    needed: dict[str, tuple[str, ast.AST]] = {}  # name -> (module, its definition)
    imports: dict[str, ast.AST] = {}  # by their text: each once
    todo = [(f.__module__, f.__name__) for f in functions]
    while todo:
        module_name, name = todo.pop()
        if module_name not in modules:
            modules[module_name] = _read(module_name, packages)
        module = modules[module_name]
        if name in module.links:
            todo.append((module.links[name], name))
        elif name in module.imports:
            imports.setdefault(ast.unparse(module.imports[name]), module.imports[name])
        elif name in module.definitions and name not in needed:
            node = module.definitions[name]
            needed[name] = (module_name, node)
            todo += [(module_name, n.id) for n in ast.walk(node) if isinstance(n, ast.Name)]
        elif name in needed and needed[name][0] != module_name \
                and name in module.definitions:
            raise ValueError(f"{name} is defined in {needed[name][0]} and {module_name}")
    order = list(dict.fromkeys(m for m, _ in needed.values()))[::-1]  # what is used first
    body = sorted({id(n): (order.index(m), n.lineno, n) for m, n in needed.values()}
                  .values(), key=lambda item: item[:2])
    return ast.unparse(ast.Module(body=[*imports.values(), *(n for _, _, n in body)],
                                  type_ignores=[]))
