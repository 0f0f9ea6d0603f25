"""The machine the engine runs on: thread counts (BLAS, torch, the E-step's workers), handing freed memory
back, memory checks, limits and chunk sizes. Imports nothing of the engine but errors."""
