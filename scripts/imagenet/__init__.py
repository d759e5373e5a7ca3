"""Conversion of published ImageNet backbones (PyPI weight packages) into catalog models; torch only here and in tests."""
