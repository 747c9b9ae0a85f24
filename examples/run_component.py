#!/usr/bin/env python3
"""Run a WebAssembly command component on a stock wasmtime host (wasmtime-py), like
``wasmtime run -S http COMPONENT ARGS…``.

The host offers exactly what wasmtime ships: WASI 0.2 (``add_wasip2``) and wasi:http's
outgoing handler (``add_wasi_http``), with stdout and stderr inherited, the arguments passed
as ``wasi:cli/environment`` arguments, and no directory pre-opened.  It calls the component's
``wasi:cli/run`` export and exits 0 when ``run`` returns ``ok``, 1 when it returns ``err``,
and 2 when the component cannot be loaded or instantiated, e.g. because it imports an
interface that the host does not offer::

    python examples/run_component.py target/release/scan-app.wasm URL --where "…" --sum COL
    python examples/run_component.py --imports target/release/quiver-engine-wasi.wasm

``--imports`` prints the component's imports, one per line, instead of running it; those a
stock host cannot satisfy are marked ``(not offered by a stock host)``.

Compiled code is kept in wasmtime's cache (``~/.cache/wasmtime``), so a component compiles
once, not at every run.  Needs the PyPI package ``wasmtime`` (50.x).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import wasmtime
from wasmtime.component import (Component, ComponentInstanceType, FuncType, Linker,
                                  ResourceType, Variant)

#: The versions of wasi:cli/run tried, newest first (wasmtime serves every 0.2.x import).
RUN_INTERFACES = [f"wasi:cli/run@0.2.{minor}" for minor in range(12, -1, -1)]


def load(path: str) -> tuple[wasmtime.Engine, Component]:
    """Compiles the component (or takes it from wasmtime's cache)."""
    config = wasmtime.Config()
    try:
        config.cache = True
    except wasmtime.WasmtimeError:  # no writable cache directory: compile every time
        pass
    engine = wasmtime.Engine(config)
    return engine, Component.from_file(engine, path)


def imports(engine: wasmtime.Engine, component: Component) -> List[str]:
    """The names of the component's imports, e.g. ``wasi:http/types@0.2.12``."""
    return list(component.type.imports(engine))


def needs_host(engine: wasmtime.Engine, item) -> bool:
    """Whether an import needs something from the host: an instance with at least one
    function or resource in it (an instance of types only, e.g. ``quiver:engine/types``,
    needs nothing), or any import that is not an instance."""
    ty = item.ty
    if not isinstance(ty, ComponentInstanceType):
        return True
    return any(isinstance(export.ty, (FuncType, ResourceType))
               for export in ty.exports(engine).values())


def missing_imports(engine: wasmtime.Engine, component: Component) -> List[str]:
    """Imports outside the ``wasi:`` namespace that need an implementation from the host:
    a stock host has none to offer."""
    return [name for name, item in component.type.imports(engine).items()
            if not name.startswith("wasi:") and needs_host(engine, item)]


def stock_linker(engine: wasmtime.Engine) -> Linker:
    """A linker with what a stock wasmtime host offers: WASI 0.2 and wasi:http."""
    linker = Linker(engine)
    linker.add_wasip2()
    linker.add_wasi_http()
    return linker


def run(path: str, argv: List[str]) -> int:
    """Instantiates the component with WASI 0.2 and wasi:http and calls its ``run``."""
    engine, component = load(path)
    linker = stock_linker(engine)
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = [Path(path).name, *argv]
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    store.set_wasi_http()
    try:
        instance = linker.instantiate(store, component)
    except wasmtime.WasmtimeError as e:
        missing = missing_imports(engine, component)
        hint = f" (it imports {', '.join(missing)}, which a stock host lacks)" if missing else ""
        print(f"run_component: cannot instantiate {path}{hint}: {first_line(e)}", file=sys.stderr)
        return 2
    func = find_run(store, instance)
    if func is None:
        print(f"run_component: {path} exports no wasi:cli/run", file=sys.stderr)
        return 2
    try:
        result = func(store)
        func.post_return(store)
    except wasmtime.WasmtimeError as e:  # a trap, or exit() with a status
        print(f"run_component: {path} failed: {first_line(e)}", file=sys.stderr)
        return 1
    # `run: func() -> result` lifts to Variant('ok') or Variant('err').
    return 0 if isinstance(result, Variant) and result.tag == "ok" else 1


def find_run(store: wasmtime.Store, instance) -> Optional[object]:
    """The ``run`` function of the first ``wasi:cli/run@0.2.x`` the component exports."""
    for name in RUN_INTERFACES:
        iface = instance.get_export_index(store, name)
        if iface is not None:
            index = instance.get_export_index(store, "run", iface)
            if index is not None:
                return instance.get_func(store, index)
    return None


def first_line(error: Exception) -> str:
    """The first line of a wasmtime error (the rest is a backtrace of the host's frames)."""
    return str(error).strip().splitlines()[0] if str(error).strip() else repr(error)


def main(args: List[str]) -> int:
    if len(args) >= 2 and args[0] == "--imports":
        engine, component = load(args[1])
        missing = set(missing_imports(engine, component))
        for name in imports(engine, component):
            print(name + (" (not offered by a stock host)" if name in missing else ""))
        return 0
    if not args or args[0].startswith("-"):
        print("usage: run_component.py COMPONENT [ARGS...] | --imports COMPONENT", file=sys.stderr)
        return 2
    return run(args[0], args[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
