"""Regenerate ``monolith/proto/*_pb2.py``, ``.pyi`` and gRPC stubs with grpcio-tools.

Run from anywhere: ``python scripts/gen_protos.py`` (``make protos``). The
generated files are checked in so that installing monolith needs no compiler
and no TensorFlow.
"""

from __future__ import annotations

import pathlib
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main() -> int:
    protos = sorted((ROOT / "monolith" / "proto").glob("*.proto"))
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={ROOT}",
        f"--pyi_out={ROOT}",
        *[str(p.relative_to(ROOT)) for p in protos],
    ]
    code = protoc.main(args)
    if code != 0:
        sys.stderr.write(f"protoc failed with exit code {code}\n")
        return int(code)
    services = [p for p in protos if "\nservice " in p.read_text()]
    if services:
        code = protoc.main(
            [
                "protoc",
                f"-I{ROOT}",
                f"-I{include}",
                f"--grpc_python_out={ROOT}",
                *[str(p.relative_to(ROOT)) for p in services],
            ]
        )
        if code != 0:
            sys.stderr.write(f"protoc (grpc) failed with exit code {code}\n")
            return int(code)
    for proto in protos:
        sys.stdout.write(f"generated {proto.stem}_pb2.py\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
