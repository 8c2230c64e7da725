"""The backend ``fastnn.functional`` runs its kernels on.

``fastnn.functional`` is the kernel contract with NumPy in and NumPy out, so it
runs on the CPU backend; it reaches the kernels and allocates its outputs
through that backend (``fastnn.backend.get_backend``), never by importing a
kernel package by name.
"""

from fastnn.backend import get_backend

#: The CPU backend: its kernel families and its ``memory`` helpers.
BACKEND = get_backend("cpu")
