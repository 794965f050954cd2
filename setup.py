"""cffi needs a setup.py beside pyproject.toml to compile the C core at install time."""

from setuptools import setup

setup(cffi_modules=["kllama/_build_native.py:ffibuilder"])
