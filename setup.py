"""The one compiled part of the package: ``adapter/wl2/_walk.pyx``, the compiled twin of the WL 2.0 answer reader's
walk (docs/architecture.md, "Reading a WL 2.0 answer"). Everything else about the package is in setup.cfg.

The extension is optional: where no C compiler is at hand the build says so and goes on without it, and
``adapter/wl2/reader.py`` walks the answer in Python instead, with the same results (more CPU per search).
"""
import lxml
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize(
    [Extension("adapter.wl2._walk", ["adapter/wl2/_walk.pyx"], include_dirs=lxml.get_include(), optional=True)],
    compiler_directives={"language_level": 3}, quiet=True))
