"""Comparing what the student returned with what was expected, with messages that say how
it differs (shape, dtype, values)."""

from __future__ import annotations

import torch

from .verdict import CheckFailed, fail


def as_scalar(value, what: str):
    """A plain Python scalar from an int/float/str or a one-element tensor/array; else fail."""
    if hasattr(value, "shape") and hasattr(value, "item"):
        if getattr(value, "size", None) == 1 or (hasattr(value, "numel") and
                                                  callable(value.numel) and value.numel() == 1):
            try:
                return value.item()
            except Exception:
                fail(f"{what} is a {type(value).__name__} whose value cannot be read "
                     "(is it on the 'meta' device?): return a plain number.")
        fail(f"{what} should be a single value, got a {type(value).__name__} of shape "
             f"{tuple(value.shape)}.")
    return value


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def expect_tensor(got, expected: torch.Tensor, what: str, atol: float = 1e-5,
                  rtol: float = 1e-4, hint_transpose: bool = True) -> None:
    """Fail with a precise message unless `got` equals `expected` (type, shape, dtype, values)."""
    if got is None:
        fail(f"{what} returned None: did you forget `return`?")
    if isinstance(got, tuple) and not isinstance(expected, tuple):
        fail(f"{what} should return one tensor of shape {tuple(expected.shape)}, "
             f"got a tuple of {len(got)} items.")
    if not isinstance(got, torch.Tensor):
        extra = " (a NumPy array: use torch operations, or torch.from_numpy)" \
            if type(got).__module__ == "numpy" else ""
        fail(f"{what} should return a torch.Tensor, got {type(got).__name__}{extra}.")
    if got.device != expected.device:
        fail(f"{what} is on device {got.device}, expected {expected.device}: create new tensors "
             "on the inputs' device (e.g. torch.zeros(..., device=x.device)).")
    if tuple(got.shape) != tuple(expected.shape):
        msg = (f"{what} has the wrong shape: expected {tuple(expected.shape)}, "
               f"got {tuple(got.shape)}.")
        if (hint_transpose and got.dim() == 2 and tuple(got.shape) == tuple(expected.shape)[::-1]):
            msg += " That is the transpose: check the order of a matrix product (x @ W, not W @ x)."
        fail(msg)
    if got.dtype != expected.dtype:
        if got.is_floating_point() and expected.is_floating_point():
            fail(f"{what} has dtype {got.dtype}, but the inputs are {expected.dtype}: return "
                 f"{expected.dtype}. A tensor your code creates takes the default dtype, or "
                 "float64 from NumPy: create it with dtype=x.dtype (and device=x.device).")
        fail(f"{what} has dtype {got.dtype}, expected {expected.dtype}.")
    if got.is_floating_point() and not torch.isfinite(got).all():
        bad = int((~torch.isfinite(got)).sum())
        fail(f"{what} contains {bad} NaN or infinite value(s).")
    if not torch.allclose(got.detach(), expected, atol=atol, rtol=rtol):
        diff = (got.detach().to(torch.float64) - expected.to(torch.float64)).abs()
        first = tuple(int(i) for i in (diff > atol + rtol * expected.abs()).nonzero()[0])
        msg = (f"{what} has the right shape but wrong values: at index {first} expected "
               f"{_fmt(float(expected.detach()[first]))}, got {_fmt(float(got.detach()[first]))} "
               f"(largest difference {_fmt(float(diff.max()))}).")
        if got.dim() == 2 and got.shape[0] == got.shape[1] and \
                torch.allclose(got.detach().T, expected, atol=atol, rtol=rtol):
            msg += " Your matrix is the transpose of the expected one."
        fail(msg)


def close(got, reference: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """True if `got` is a tensor of `reference`'s shape and dtype with close values: a safe
    test of what a typical mistake returns (never raises, whatever the student returned)."""
    return (isinstance(got, torch.Tensor) and isinstance(reference, torch.Tensor)
            and got.shape == reference.shape and got.dtype == reference.dtype
            and got.device == reference.device
            and bool(torch.allclose(got.detach(), reference, atol=atol, rtol=rtol)))


def slipped(got, slip, want, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """True if `got` has what a typical slip returns (`slip`) and is not the right answer
    (`want`); a tensor each, or sequences of them compared item by item. Inputs drawn at
    random can make a slip's value agree with the right one (tanh(a) ~ a for a small
    pre-activation a), and a right answer must never be named a mistake."""
    def all_close(a, b):
        if isinstance(b, (tuple, list)):
            return isinstance(a, (tuple, list)) and len(a) == len(b) and \
                all(close(x, y, atol, rtol) for x, y in zip(a, b))
        return close(a, b, atol, rtol)
    return all_close(got, slip) and not all_close(got, want)


def as_pair(got, what: str, names: str) -> tuple:
    """A pair from a tuple or a list (the one rule for every check); else fail."""
    if got is None:
        fail(f"{what} returned None: did you forget `return`?")
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        kind = f"a {type(got).__name__} of {len(got)}" if isinstance(got, (tuple, list)) \
            else f"a {type(got).__name__}"
        fail(f"{what} should return a pair {names}, got {kind}.")
    return tuple(got)


EXACT = 1e-12       # the tolerance of a derivation by hand, in float64


def refuse_other_order(got, want, names, what: str) -> None:
    """Name it when every gradient is right but they come in another order."""
    if not isinstance(got, (tuple, list)) or len(got) != len(want) or \
            all(close(g, w, 1e-8, 1e-6) for g, w in zip(got, want)):
        return
    placed = [next((n for n, w in zip(names, want) if close(g, w, 1e-8, 1e-6)), None)
              for g in got]
    if None not in placed and placed != list(names) and len(set(placed)) == len(names):
        fail(f"{what} returns the right gradients in another order, ({', '.join(placed)}): "
             f"return them as ({', '.join(names)}).")


def expect_gradients(got, want, names, what: str, slips: dict | None = None) -> None:
    """Each gradient equal to autograd's; `slips` maps a name to (what a typical slip
    returns, the hint for it), for a specific message when the answer is that slip."""
    if not isinstance(got, (tuple, list)) or len(got) != len(want):
        kind = f"{len(got)} items" if isinstance(got, (tuple, list)) else type(got).__name__
        fail(f"{what} should return a tuple of {len(want)} tensors ({', '.join(names)}), "
             f"got {kind}.")
    refuse_other_order(got, want, names, what)
    for name, g, w in zip(names, got, want):
        try:
            # What an honest float64 derivation reaches (rounding, ~1e-15); a numerical
            # derivative (~1e-10) does not.
            expect_tensor(g, w, f"{name} of {what}", atol=EXACT, rtol=EXACT)
        except CheckFailed:
            for slip, hint in (slips or {}).get(name, []):
                # a slip computes its formula to rounding too: matched as tightly
                if slip is not None and slipped(g, slip, w, atol=1e-9, rtol=1e-9):
                    fail(f"{name} of {what} is wrong: {hint}")
            raise
