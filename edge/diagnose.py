"""Turn any exception leaving the export pipeline into one EdgeError line with its context.

A torch, converter or runtime error about a user's model says, on one line: the backend, the graph
op and node, the module path and source line that wrote it (read from the FX node's metadata:
`nn_module_stack`, `stack_trace`), the original message's first line and what to do. The context is
read off the failing stack itself: the FX interpreters and passes that raise hold the node being
run in a local variable, and the pipeline's frames hold the Target being exported, so the pipeline
needs no bookkeeping for it.
"""

from __future__ import annotations

import functools
import re

from common.errors import EdgeError, ExportError

_FFT = re.compile(r"\bfft_|_fft_")


def never_raw(fn):
    """Decorator for pipeline entry points: only EdgeErrors leave them (KeyboardInterrupt passes)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EdgeError as e:
            enriched = _enrich(e)
            if enriched is e:
                raise
            raise enriched from e.__cause__
        except OSError:  # the machine's (disk full, permissions), not the model's: the CLI names it
            raise
        except Exception as e:  # the boundary: anything a torch pass, converter or runtime raised
            raise ExportError(explain(e)) from e

    return wrapper


def explain(exc: BaseException) -> str:
    where = locate(exc)
    backend = _backend_of(exc)
    first = first_line(exc)
    head = f"{backend} export failed" if backend else "export failed"
    return f"{head}{describe(where)}: {type(exc).__name__}: {first}. {advice(where, backend, first)}"


def _enrich(e: EdgeError) -> EdgeError:
    """An ExportError that wrapped a converter's exception gains the op and module it failed at."""
    cause = e.__cause__
    if not isinstance(e, ExportError) or cause is None or isinstance(cause, EdgeError) or " at op " in str(e):
        return e
    where = locate(cause) or op_in_message(cause)
    if where is None:
        return e
    text = str(e).rstrip(".").rstrip(":")
    return ExportError(f"{text}{describe(where)}. {advice(where, _backend_of(cause), text)}")


def op_in_message(exc: BaseException) -> dict | None:
    """Converters that check a whole graph (ExecuTorch's verifier) name the op only in later lines."""
    found = re.search(r"\baten[.:]{1,2}([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?", str(exc))
    if found is None:
        return None
    op = "aten." + found.group(1) + (f".{found.group(2)}" if found.group(2) else "")
    return {"op": op, "node": "", "module": "", "module_type": "", "source": ""}


def locate(exc: BaseException) -> dict | None:
    """The deepest FX node on the failing stack (this exception or what it was raised from)."""
    import torch.fx

    seen, found = set(), None
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            local = tb.tb_frame.f_locals
            for key in ("node", "n", "cur_node"):
                if isinstance(local.get(key), torch.fx.Node) and local[key].op == "call_function":
                    found = local[key]
                    break
            tb = tb.tb_next
        if found is not None:
            break
        exc = exc.__cause__ or exc.__context__
    return None if found is None else node_context(found)


def node_context(node) -> dict:
    stack = node.meta.get("nn_module_stack") or {}
    module, module_type = "", ""
    if stack:
        path, cls = list(stack.values())[-1]
        module = re.sub(r"^L\['self'\]\.?|^L__self___?", "", str(path))
        module_type = getattr(cls, "__name__", str(cls).rsplit(".", 1)[-1].strip("'>"))
    return {
        "op": _op_name(node.target),
        "node": node.name,
        "module": module,
        "module_type": module_type,
        "source": _source_line(node.meta.get("stack_trace") or ""),
    }


def describe(where: dict | None) -> str:
    if not where:
        return ""
    parts = [f" at op {where['op']}" + (f" (node {where['node']})" if where["node"] else "")]
    if where["module"] or where["module_type"]:
        parts.append(
            f" in module '{where['module'] or 'the top level'}' ({where['module_type'] or '?'}"
            + (f", {where['source']})" if where["source"] else ")")
        )
    elif where["source"]:
        parts.append(f" ({where['source']})")
    return "".join(parts)


def advice(where: dict | None, backend: str | None, message: str) -> str:
    op = (where or {}).get("op", "")
    target = f"--target {backend}" if backend else "this target"
    if _FFT.search(op) or "fft" in message.lower():
        return (
            "torch.fft has no conversion for phone backends: compute the transform outside the model "
            "(in the app) or replace it with a convolution."
        )
    return (
        f"edge has no rewrite for this graph on {target}: export the other targets with --keep-going, see "
        f"`edge inspect MODEL {target}` for what the backend leaves out, and report it with the model."
    )


_TERMINAL_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # torch.onnx colours its messages


def first_line(exc: BaseException) -> str:
    text = _TERMINAL_COLOUR.sub("", str(exc)).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


def _backend_of(exc: BaseException) -> str | None:
    """The Target being exported, from the pipeline's frames on the failing stack."""
    from edge.targets.base import Target

    name, tb = None, exc.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("target")
        if isinstance(candidate, Target):
            name = candidate.name
        tb = tb.tb_next
    return name


def _op_name(target) -> str:
    name = getattr(target, "name", None)
    text = name() if callable(name) else str(target)
    return text.replace("aten::", "aten.")


def _source_line(stack_trace: str) -> str:
    """file:line of the innermost frame of the model's own code (not torch's)."""
    frames = re.findall(r'File "([^"]+)", line (\d+)', stack_trace)
    frames = [(f, n) for f, n in frames if "/torch/" not in f.replace("\\", "/")]
    if not frames:
        return ""
    path, line = frames[-1]
    return f"{path.split('site-packages/')[-1]}:{line}"
