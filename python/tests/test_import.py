"""Finding the library and refusing a wrong one at import (fresh interpreters)."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _import(env_changes):
    env = dict(os.environ)
    env.update(env_changes)
    env["PYTHONPATH"] = os.path.dirname(HERE) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", "import terragrad as t; print(t.real_name, t.library_version)"],
                          env=env, capture_output=True, text=True)


def test_loaded_library_matches(tg):
    assert tg.library_version == tg.__version__
    assert tg.dtype.itemsize == (8 if tg.real_name == "double" else 4)
    assert ("-double" in os.path.basename(tg.library_path)) == (tg.real_name == "double")


def test_wrong_real_type_is_an_import_error(tg):
    other = "float" if tg.real_name == "double" else "double"
    p = _import({"TERRAGRAD_LIB": tg.library_path, "TERRAGRAD_REAL": other})
    assert p.returncode != 0
    assert "ImportError" in p.stderr and f"is the {tg.real_name} build" in p.stderr


def test_missing_library_is_an_import_error(tmp_path):
    p = _import({"TERRAGRAD_LIB": str(tmp_path)})
    assert p.returncode != 0 and "ImportError" in p.stderr and "no libterragrad" in p.stderr
    p = _import({"TERRAGRAD_LIB": str(tmp_path / "libterragrad.so")})
    assert "no such file" in p.stderr


def test_renamed_library_is_refused(tg, tmp_path):
    """A float library under the double name (or the reverse) is caught by tg_real_size."""
    wrong = "libterragrad-hydro.so" if tg.real_name == "double" else "libterragrad-hydro-double.so"
    os.symlink(tg.library_path, tmp_path / wrong)
    p = _import({"TERRAGRAD_LIB": str(tmp_path / wrong)})
    assert p.returncode != 0 and "file name" in p.stderr
