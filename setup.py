"""The compiled parts of the package, each the twin of a Python function it stands in for where it was built:
``adapter/wl2/_walk.pyx`` (reading a WL 2.0 answer, ``wl2/reader.py``), ``adapter/soap/_markup.pyx`` (writing a
WL 1.0 answer, ``soap/xmlbuild.py``) and ``adapter/soap/_scan.pyx`` (what a message's bytes say before it is
parsed, and the depth of its tree after, ``soap/xmlsafe.py``). docs/architecture.md says why. Everything else about
the package is in setup.cfg.

All are optional: where no C compiler is at hand the build says so and goes on without them, and the Python
versions are used, with the same results (more CPU per call, most for searches).
"""
import lxml
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize(
    [Extension("adapter.wl2._walk", ["adapter/wl2/_walk.pyx"], include_dirs=lxml.get_include(), optional=True),
     Extension("adapter.soap._markup", ["adapter/soap/_markup.pyx"], optional=True),
     Extension("adapter.soap._scan", ["adapter/soap/_scan.pyx"], include_dirs=lxml.get_include(), optional=True)],
    compiler_directives={"language_level": 3}, quiet=True))
