"""Kernel sources for fastnn, installed as ``fastnn.kernels``.

``scalar`` holds the per-element maths shared by every backend; ``cpu`` and
``cuda`` are backends: packages whose modules (``dense``, ``activations``,
``batchnorm``, ``losses``, ``optimizers``, ``init``) export the same function
names with the same signatures.  A kernel takes every array it touches as an
argument, outputs included, and returns nothing (or a Python scalar).
"""
