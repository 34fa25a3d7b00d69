"""The one thing pyproject.toml does not declare: the compiled SM2 verification
(src/anxin/crypto/_sm2fast.c; docs/performance.md, "SM2 backend"). It is optional:
without a C compiler (or without 64-bit ``unsigned __int128``) the build still succeeds,
and anxin verifies SM2 through Tongsuo or in pure Python, with the same verdicts.
(setuptools' ``[tool.setuptools] ext-modules`` would do the same from pyproject.toml,
but is still experimental.)"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "anxin.crypto._sm2fast",
            sources=["src/anxin/crypto/_sm2fast.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
