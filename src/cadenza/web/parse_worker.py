"""The upload parser's worker process: ``python -m cadenza.web.parse_worker``.

It bounds itself (address space, CPU seconds and file size, from its arguments),
imports the readers, then waits for one request line on stdin (JSON: the upload's
path and the path for the canonical MusicXML), parses, writes, answers one JSON line
and exits. The parent kills it past its wall-clock time, so a
hostile file (an entity bomb, a zip bomb, a parser loop) costs one process, never the
server. One request per process: nothing of a bad file outlives it.
"""

from __future__ import annotations

import json
import os
import sys


def limit(memory_bytes: int, cpu_seconds: int) -> None:
    """Bound this process before any parser is imported."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000_000, 50_000_000))
    os.nice(5)  # a spare warming up while a job runs yields the cores to the job


def main() -> int:
    if len(sys.argv) == 3:
        limit(int(sys.argv[1]), int(sys.argv[2]))
    # the readers and writers import music21 lazily: warm them up before the request
    import music21.converter  # noqa: F401
    import music21.musicxml.m21ToXml  # noqa: F401
    import music21.musicxml.xmlToM21  # noqa: F401

    from cadenza.errors import CadenzaError
    from cadenza.io import read, write_musicxml

    print(json.dumps({"ready": True}), flush=True)
    line = sys.stdin.readline()
    if not line:
        return 0
    request = json.loads(line)
    try:
        scores = read(request["path"])
        score = scores[0]
        if not len(score.notes):
            raise CadenzaError("the file holds no notes")
        write_musicxml(score, request["out"])
        answer = {"ok": True, "pieces": len(scores), "parts": len(score.parts),
                  "notes": int(len(score.notes)), "meter": score.meter}
    except CadenzaError as err:
        answer = {"ok": False, "error": _without_path(str(err), request["path"])}
    except Exception as err:  # any parser failure is the file's fault, reported in one line
        answer = {"ok": False, "error": f"cannot parse the file ({type(err).__name__})"}
    print(json.dumps(answer), flush=True)
    return 0


def _without_path(text: str, path: str) -> str:
    """The reader's message without the server's temporary path."""
    return text.replace(f"{path}: ", "").replace(path, "the file")


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # skip the interpreter's teardown: the parent waits for the exit
