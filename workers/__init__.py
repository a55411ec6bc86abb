"""The background processes, long-running loops beside the web tier (started by `supportline ...`).

* `workers.worker`: `supportline worker`, the RQ worker and its timer thread (scheduled jobs,
  sweeps, the heartbeat, the fallback file), also run in a thread of the web process when Redis
  is embedded (development);
* `workers.dispatcher`: `supportline dispatcher`, the loop that puts waiting callers through and
  reconciles presence.
"""
