"""Array backends: NumPy (default), CuPy (optional GPU) and array-api-strict (a strict stand-in).

The maths of this package is written against the Python array API standard. The three things the
standard lacks live here and only here:

* **host/device transfer** -- :meth:`Backend.asarray` (host -> backend) and :meth:`Backend.to_numpy`
  (backend -> host) are the only doors between NumPy and the backend's arrays;
* **random numbers** -- drawn on the host from a ``numpy.random.Generator`` by default, so every
  backend sees identical numbers; CuPy can draw on the device from a ``cupy.random.Generator``;
* **special functions** -- ``gammaln``, ``digamma``, ``log_ndtr`` mapped explicitly to
  ``scipy.special`` (NumPy), ``cupyx.scipy.special`` (CuPy), or computed on the host through the
  explicit doors (strict, which has no special functions).

``strict`` puts its arrays on array-api-strict's fake device ``Device("device1")``: it refuses
implicit NumPy conversion and mixing devices exactly as CuPy does, so it tests the device path
without a GPU. CuPy is detected lazily (a tiny allocation inside try/except), never at import time:
CuPy imports on machines without a GPU and fails later.

This module is not a general array library; it holds only what the project needs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

import numpy as np
from array_api_compat import array_namespace as _compat_namespace

BACKENDS = ("numpy", "cupy", "strict")
DTYPES = ("float64", "float32")


_NAMESPACES: dict[tuple[type, ...], ModuleType] = {}


def array_namespace(*arrays) -> ModuleType:
    """``array_api_compat.array_namespace``, memoised on the arguments' types.

    The namespace of an array is a function of its type alone, and the lookup costs about 0.9 us; the
    element-wise primitives ask for it about 75 times per training step, which was 4% of the README's
    main job (a network of 8-32-32-1). The same namespace object is returned, so every number is unchanged.
    A failing lookup (mixed libraries) raises as before and is not cached.
    """
    key = tuple(map(type, arrays))
    xp = _NAMESPACES.get(key)
    if xp is None:
        xp = _NAMESPACES[key] = _compat_namespace(*arrays)
    return xp


def cupy_available() -> bool:
    """True when CuPy imports *and* can allocate on a GPU (lazy detection, never at import time)."""
    try:
        import cupy

        cupy.zeros(1)  # fails on machines without a usable GPU
        return True
    except Exception:  # noqa: BLE001 -- any failure means "no usable CuPy"
        return False


@dataclass(frozen=True)
class Backend:
    """One array backend: its namespace ``xp``, device, float dtype and the doors to the host.

    Build one with :func:`get_backend`. Fields: ``name`` (``"numpy"``, ``"cupy"``, ``"strict"``),
    ``xp`` (array-API namespace), ``device`` (passed to ``xp.asarray``; ``None`` for NumPy/CuPy),
    ``dtype`` (the backend's float dtype object) and ``dtype_name``.
    """

    name: str
    xp: ModuleType
    device: Any
    dtype: Any
    dtype_name: str
    _special: dict[str, Callable] = field(repr=False, compare=False, default_factory=dict)

    # ---- the doors between host and backend -------------------------------------------------
    def asarray(self, a, dtype=None):
        """Host (NumPy array, list, scalar) -> backend array of ``dtype`` (default: the float dtype)."""
        dt = self.dtype if dtype is None else dtype
        if self.name == "strict":
            return self.xp.asarray(np.asarray(a), dtype=dt, device=self.device)
        return self.xp.asarray(a, dtype=dt)

    def to_numpy(self, a) -> np.ndarray:
        """Backend array -> NumPy array on the host (a device sync on CuPy)."""
        if self.name == "numpy":
            return np.asarray(a)
        if self.name == "cupy":
            return a.get()
        import array_api_strict as xs

        return np.asarray(a.to_device(xs.Device("CPU_DEVICE")))

    def is_backend_array(self, a) -> bool:
        """True when ``a`` is an array of this backend (on its device)."""
        if self.name == "numpy":  # 0-d arithmetic in NumPy returns scalars: they count too
            return isinstance(a, (np.ndarray, np.generic))
        if self.name == "cupy":
            import cupy

            return isinstance(a, cupy.ndarray)
        import array_api_strict as xs

        return isinstance(a, xs._array_object.Array) and a.device == self.device

    # ---- random numbers --------------------------------------------------------------------
    def standard_normal(self, rng, shape) -> Any:
        """N(0, 1) draws of ``shape``: on the host from a NumPy Generator (identical on every backend),
        or on the device when ``rng`` is a ``cupy.random.Generator`` (CuPy only). On the host, float64
        backends draw ``rng.standard_normal(shape)`` (NumPy's ziggurat; the stream of every float64 run so
        far), float32 backends :func:`box_muller_float32` (float32 directly, 3x faster: docs/performance.md)."""
        if isinstance(rng, np.random.Generator):
            if self.dtype_name == "float32":
                return self.asarray(box_muller_float32(rng, shape))
            return self.asarray(rng.standard_normal(shape))
        self._check_device_rng(rng)
        return rng.standard_normal(shape, dtype=self.dtype)

    def uniform_open(self, rng, shape) -> Any:
        """U(0, 1) draws of ``shape`` on the open interval (0, 1), so ``log u`` and ``log(1-u)`` are finite."""
        if isinstance(rng, np.random.Generator):
            # Draw in float64, then keep the draw inside (0, 1) *in the backend's dtype*: a float64
            # value above 1 - 2^-25 would round to 1.0 in float32 and make log(1 - u) infinite.
            dt = np.dtype(self.dtype_name)
            u = rng.uniform(float(np.finfo(np.float64).tiny), 1.0, size=shape)
            return self.asarray(np.clip(u, np.finfo(dt).tiny, np.nextafter(dt.type(1), dt.type(0))))
        self._check_device_rng(rng)
        u = rng.random(shape, dtype=self.dtype)
        return self.xp.clip(u, float(np.finfo(self.dtype).tiny), 1.0 - float(np.finfo(self.dtype).eps))

    def _check_device_rng(self, rng):
        if self.name != "cupy":
            raise ValueError(
                f"rng: expected a numpy.random.Generator for backend {self.name!r} "
                f"(got {type(rng).__name__}); create one with numpy.random.default_rng(seed)"
            )

    # ---- special functions -------------------------------------------------------------------
    def special(self, fname: str) -> Callable:
        """The special function ``fname`` (``gammaln``, ``digamma``, ``log_ndtr``) for this backend."""
        try:
            return self._special[fname]
        except KeyError:
            raise ValueError(f"special function {fname!r} is not mapped; known: {sorted(self._special)}") from None


_TWO_PI_32 = np.float32(2.0 * np.pi)


def box_muller_float32(rng: np.random.Generator, shape) -> np.ndarray:
    """float32 N(0, 1) draws of ``shape`` by the Box-Muller transform (Box & Muller 1958), vectorised:  (RNG-1)

        z_i = sqrt(-2 log(1 - u_i)) cos(2 pi v_i),    z_{h+i} = sqrt(-2 log(1 - u_i)) sin(2 pi v_i),

    ``i < h = ceil(n / 2)`` (the flat C-order index; odd ``n`` drops the last sine), with ``u_1..u_h`` drawn
    first by ``rng.random`` in float64 (53 bits), then ``v_1..v_h`` by ``rng.random(dtype=float32)`` (24 bits):
    reproducible from the generator's state. Exact N(0, 1) in distribution but for rounding:

    * the radius is computed from float64 uniforms, ``1 - u`` in (0, 1] exactly, so its tail reaches
      ``sqrt(2 * 53 log 2)`` = 8.57 sigma (float32 uniforms would stop it at 5.77 sigma, where PyTorch's
      float32 ``normal_`` stops), and is rounded once to float32 after the log;
    * the angle ``2 pi v`` lies on a grid of step ``2 pi 2^-24`` = 3.7e-7 and is rounded to float32, so each
      draw is off by at most about ``|r| 4e-7`` -- the granularity of NumPy's own float32 ziggurat
      (``x_i 2^-23`` <= 4.4e-7 in its widest layer).

    Written into the output's own memory (the float64 uniforms first occupy its bytes), so the one temporary
    is the float32 radius: fresh large temporaries cost page faults (docs/performance.md)."""
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
    n = math.prod(shape)
    h = n - n // 2
    buf = np.empty(2 * h, dtype=np.float32)
    u = buf.view(np.float64)                                       # h float64 slots in the output's bytes
    rng.random(out=u)
    np.subtract(1.0, u, out=u)                                     # (0, 1], exact
    np.log(u, out=u)
    r = u.astype(np.float32)
    r *= np.float32(-2.0)
    np.sqrt(r, out=r)
    angle = buf[h:]
    rng.random(out=angle, dtype=np.float32)
    angle *= _TWO_PI_32
    np.cos(angle, out=buf[:h])
    np.sin(angle, out=angle)
    buf[:h] *= r
    angle *= r
    return buf[:n].reshape(shape)


def _host_special(fn: Callable, backend_ref: list) -> Callable:
    """Wrap a SciPy function for the strict backend: explicit host round trip through the doors."""

    def wrapped(a):
        b = backend_ref[0]
        return b.asarray(fn(b.to_numpy(a)))

    return wrapped


def get_backend(name: str = "numpy", dtype: str = "float64") -> Backend:
    """Return the :class:`Backend` called ``name`` with float ``dtype`` (``"float64"`` or ``"float32"``)."""
    if isinstance(name, Backend):
        return name
    if name not in BACKENDS:
        raise ValueError(f"backend: unknown name {name!r}; choose one of {BACKENDS}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype: unknown {dtype!r}; choose 'float64' (default) or 'float32'")
    if name == "numpy":
        import array_api_compat.numpy as xp
        import scipy.special as sp

        special = {"gammaln": sp.gammaln, "digamma": sp.digamma, "log_ndtr": sp.log_ndtr}
        return Backend("numpy", xp, None, getattr(xp, dtype), dtype, special)
    if name == "cupy":
        if not cupy_available():
            raise ValueError("backend: 'cupy' needs CuPy and a working GPU; install refimpl[cupy] or use 'numpy'")
        import array_api_compat.cupy as xp
        import cupyx.scipy.special as sp

        special = {"gammaln": sp.gammaln, "digamma": sp.digamma, "log_ndtr": sp.log_ndtr}
        return Backend("cupy", xp, None, getattr(xp, dtype), dtype, special)
    try:
        import array_api_strict as xs
    except ImportError:  # pragma: no cover - test dependency
        raise ValueError("backend: 'strict' needs array-api-strict; install refimpl[test]") from None
    import scipy.special as sp

    ref: list = []
    special = {k: _host_special(getattr(sp, k), ref) for k in ("gammaln", "digamma", "log_ndtr")}
    b = Backend("strict", xs, xs.Device("device1"), getattr(xs, dtype), dtype, special)
    ref.append(b)
    return b


def special(fname: str, a):
    """Special function ``fname`` applied to ``a``, chosen by ``a``'s own backend.

    Python scalars go through ``math``-accurate SciPy on the host and come back as Python floats.
    """
    if isinstance(a, (int, float)):
        import scipy.special as sp

        return float(getattr(sp, fname)(float(a)))
    return backend_of(a).special(fname)(a)


def backend_of(a) -> Backend:
    """The :class:`Backend` an array belongs to (by its namespace and dtype)."""
    import array_api_compat

    xp = array_api_compat.array_namespace(a)
    dtype = "float32" if a.dtype == xp.float32 else "float64"
    if array_api_compat.is_numpy_namespace(xp):
        return get_backend("numpy", dtype)
    if array_api_compat.is_cupy_namespace(xp):
        return get_backend("cupy", dtype)
    if "array_api_strict" in xp.__name__:
        b = get_backend("strict", dtype)
        if a.device != b.device:
            raise ValueError(f"array on strict device {a.device}; refimpl's strict backend uses {b.device}")
        return b
    raise ValueError(f"arrays of namespace {xp.__name__} are not supported; use numpy, cupy or array_api_strict")
