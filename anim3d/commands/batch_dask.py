"""``anim3d batch --dask ADDRESS``: the lines of a batch run as futures on a Dask distributed cluster.

Each line is one ``client.submit`` of the same per-line function the process pool runs
(``batch_jobs.animate_line``: it loads the model once per worker process, lazily, on one torch thread, then writes
the line's outputs atomically and its record). A line whose worker died is rerun on another worker by the
scheduler; ``retries=2`` reruns a task that raised. The outputs are written by the workers, so --out must be a
folder they reach at the same path (the same machine, or a shared filesystem), as must the audio files.
"""

from __future__ import annotations

import uuid

from anim3d.errors import Anim3dError

CONNECT_TIMEOUT = 5.0  # seconds to reach the scheduler


def connect(address: str):
    """A ``distributed.Client`` on the scheduler at ``address`` (tcp://host:8786), or one Anim3dError."""
    from anim3d.optional import require

    distributed = require("distributed", "anim3d batch --dask")
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    hint = "give the address of a running `dask scheduler` as tcp://HOST:PORT"
    try:  # a malformed address is refused before a Client is made (a failed Client's clean-up blocks for seconds)
        scheme, location = parse_address(address.strip())
        get_backend(scheme)  # an unknown scheme
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except (ValueError, TypeError) as e:
        raise Anim3dError(f"--dask {address!r}: not a scheduler address ({e}); {hint}") from None
    try:
        return distributed.Client(address.strip(), timeout=CONNECT_TIMEOUT, set_as_default=False)
    except Exception as e:  # noqa: BLE001 -- OSError, TimeoutError, an unknown scheme...: one message
        detail = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        raise Anim3dError(f"cannot connect to the Dask scheduler {address!r} ({detail}); {hint}") from None


def run_on_dask(client, animate_line, jobs: list, finished) -> None:
    """Submit ``animate_line(job)`` for every job (a module-level function, pickled by name), hand each result to
    ``finished`` as it completes."""
    from distributed import KilledWorker, as_completed

    run = uuid.uuid4().hex[:8]
    futures = {client.submit(animate_line, job, pure=False, retries=2, key=f"anim3d-batch-{run}-row{job[0]}"): job
               for job in jobs}
    try:
        for fut in as_completed(list(futures), loop=client.loop):
            job = futures[fut]
            try:
                result = fut.result()
            except KilledWorker as e:  # the line's workers died again and again (out of memory?): that line fails
                result = (job[0], "failed", f"the Dask workers that ran it died ({e})", 0.0)
            except Exception as e:  # noqa: BLE001 -- the scheduler went away, the task could not be unpickled...
                raise Anim3dError(f"the Dask run stopped ({type(e).__name__}: {e}); finished lines are kept, "
                                  "run the command again to resume") from None
            finished(result)
    except BaseException:
        client.cancel(list(futures))
        raise
