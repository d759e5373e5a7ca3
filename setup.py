"""Packaging shim: ships the repository's models/ folder as the package data of ``zoo.pretrained``.

Everything else about the distribution is in pyproject.toml; setuptools cannot map a
package onto a directory of another name from pyproject alone.
"""
from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["bigdl_runtime*", "zoo*"]), "zoo.pretrained"],
      package_dir={"zoo.pretrained": "models"})
