"""Finding and loading the terragrad shared library (ctypes), and checking that it is the
version and real type this package was written for.

Where the library is looked for, first hit wins:
  1. $TERRAGRAD_LIB: the path of libterragrad-hydro.so / libterragrad-hydro-double.so (the
     application library, which loads the engine libterragrad[-double].so), or a folder
     holding one (a build tree or an install prefix's lib/);
  2. the folders of an install: <sys.prefix>/lib, /usr/local/lib, /usr/lib, then the
     dynamic loader's own search (ldconfig paths, LD_LIBRARY_PATH).
$TERRAGRAD_REAL=float|double picks which of the two builds to look for (default: float,
or whichever one a folder holds); it is also checked against the library actually loaded.
"""
import ctypes
import ctypes.util
import os
import sys

import numpy as np

from ._version import __version__

ENV_LIB = "TERRAGRAD_LIB"
ENV_REAL = "TERRAGRAD_REAL"
# the application library (training, metrics, sensitivity); the engine it depends on
# (libterragrad[-double], HBV kernels, version) is loaded with it and reached through it
_NAMES = {"float": "libterragrad-hydro", "double": "libterragrad-hydro-double"}


def _version_number(v):
    major, minor, patch = (int(x) for x in v.split(".")[:3])
    return major * 10000 + minor * 100 + patch


def _wanted_real():
    r = os.environ.get(ENV_REAL, "").strip().lower()
    if r not in ("", "float", "double"):
        raise ImportError(f"terragrad: {ENV_REAL}={r!r}: must be 'float' or 'double'")
    return r or None


def _in_folder(folder, real):
    kinds = [real] if real else ["float", "double"]
    for kind in kinds:
        for suffix in (".so", ".so." + ".".join(__version__.split(".")[:2])):
            p = os.path.join(folder, _NAMES[kind] + suffix)
            if os.path.isfile(p):
                return p
    return None


def _candidates(real):
    env = os.environ.get(ENV_LIB)
    if env:
        if os.path.isdir(env):
            p = _in_folder(env, real)
            if not p:
                raise ImportError(f"terragrad: {ENV_LIB}={env}: no {_NAMES[real or 'float']}.so"
                                  f"{'' if real else ' or libterragrad-hydro-double.so'} in this folder")
            return [p]
        if not os.path.isfile(env):
            raise ImportError(f"terragrad: {ENV_LIB}={env}: no such file or folder")
        return [env]
    out = []
    for folder in (os.path.join(sys.prefix, "lib"), "/usr/local/lib", "/usr/lib"):
        p = _in_folder(folder, real)
        if p:
            out.append(p)
    found = ctypes.util.find_library(_NAMES[real or "float"][3:])
    if found:
        out.append(found)
    return out


def _load():
    real = _wanted_real()
    cands = _candidates(real)
    if not cands:
        raise ImportError(
            f"terragrad: cannot find {_NAMES[real or 'float']}.so: install the library "
            f"(cmake --install) or set {ENV_LIB} to the .so file or the build folder")
    errors = []
    for path in cands:
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("terragrad: cannot load the library: " + "; ".join(errors))


lib, path = _load()

lib.tg_version.restype = ctypes.c_char_p
lib.tg_real_size.restype = ctypes.c_int
lib.tg_error_message.restype = ctypes.c_char_p
lib.tg_error_code.restype = ctypes.c_int
lib.tg_check_abi.argtypes = [ctypes.c_int, ctypes.c_size_t]
lib.tg_check_abi.restype = ctypes.c_int

library_version = lib.tg_version().decode()
real_size = lib.tg_real_size()
real_name = {4: "float", 8: "double"}.get(real_size, f"{real_size}-byte")
_want = _wanted_real()
# the library's own rule (same major.minor: 0.x may change the ABI in every minor version)
if lib.tg_check_abi(_version_number(__version__), real_size) != 0:
    raise ImportError(f"terragrad {__version__} (Python) cannot use {path}: "
                      + lib.tg_error_message().decode())
if library_version != __version__:
    raise ImportError(f"terragrad: the Python package is version {__version__} but {path} is "
                      f"version {library_version}; install matching versions")
if _want and _want != real_name:
    raise ImportError(f"terragrad: {ENV_REAL}={_want} but {path} is the {real_name} build "
                      f"(tg_real of {real_size} bytes)")
_base = os.path.basename(path)
if ("-double" in _base) != (real_name == "double"):
    raise ImportError(f"terragrad: {path} says it is the {real_name} build, which its file name "
                      "contradicts; the library file was renamed or mixed up")
if real_name not in ("float", "double"):
    raise ImportError(f"terragrad: {path} has a tg_real of {real_size} bytes")

real = ctypes.c_float if real_name == "float" else ctypes.c_double
dtype = np.dtype(np.float32 if real_name == "float" else np.float64)


class TerragradError(RuntimeError):
    """An error reported by the library; .code is its status (TG_EINVAL, ...)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def check(status, what=None):
    """Raises TerragradError with the library's message when status != 0."""
    if status:
        msg = lib.tg_error_message().decode(errors="replace")
        if what:
            msg = f"{what}: {msg}"
        raise TerragradError(msg, status)


def ptr(a):
    """The address of a C-contiguous numpy array (None for None) for a c_void_p argument."""
    if a is None:
        return None
    assert a.flags.c_contiguous, "internal: array must be C-contiguous"
    return a.ctypes.data


def as_real(a, name, shape=None):
    """a as a C-contiguous array of the library's real type (no copy when it already is)."""
    arr = np.ascontiguousarray(a, dtype=dtype)
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name}: shape {arr.shape}, expected {tuple(shape)}")
    return arr


V = ctypes.c_void_p
I = ctypes.c_int
U32 = ctypes.c_uint32


def _sig(name, res, *args):
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = list(args)


class HbvConfig(ctypes.Structure):
    _fields_ = [("T", I), ("warmup", I), ("B", I), ("M", I), ("dynamic", U32),
                ("warmup_grad", I), ("smooth_temp", real), ("smooth_store", real),
                ("basin_outputs", U32), ("capillary", I)]   # δHBV 1.1p, off here (1.0 layout)


NPARAM, NSTATE, NOUT, UH_LEN = 13, 5, 16, 15
P = ctypes.POINTER(HbvConfig)
_sig("tg_hbv_config_init", None, P, I, I, I, I)
_sig("tg_hbv_config_check", I, P)
_sig("tg_hbv_hist_size", ctypes.c_size_t, P)
_sig("tg_hbv_forward", I, V, V, V, V, V, V, V, V, P)
_sig("tg_hbv_backward", I, V, V, V, V, V, V, V, V, V, V, V, P)
_sig("tg_hbv_scale_forward", None, V, V, I, U32, I)
_sig("tg_hbv_scale_backward", None, V, V, I, U32, I)
_sig("tg_hbv_scale_forward_bpm", None, V, V, I, U32, I, I)
_sig("tg_hbv_scale_backward_bpm", None, V, V, I, U32, I, I)
_sig("tg_uh_gamma_forward", None, V, V, V, I)
_sig("tg_uh_gamma_backward", None, V, V, V, V, V, V, I)
_sig("tg_uh_conv_forward", None, V, I, V, I, V, I, I)
_sig("tg_uh_conv_backward", None, V, I, V, V, I, V, I, V, I, I)
_sig("tg_routing_scale_forward", None, V, V, V, I)
_sig("tg_routing_scale_backward", None, V, V, V, I)

_names_arr = (ctypes.c_char_p * NPARAM).in_dll(lib, "tg_hbv_param_names")
param_names = [s.decode() for s in _names_arr]
_range_arr = ((ctypes.c_double * 2) * NPARAM).in_dll(lib, "tg_hbv_param_range")
param_range = np.array([[r[0], r[1]] for r in _range_arr])
_out_arr = (ctypes.c_char_p * NOUT).in_dll(lib, "tg_hbv_output_names")
output_names = [s.decode() for s in _out_arr]
