"""Python runtimes: finding, downloading, unpacking and relocating CPython builds."""
